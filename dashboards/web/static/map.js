// Draws the province outline (GeoJSON from the server) and device markers
// in an SVG, with an equirectangular projection scaled by cos(latitude):
// no tiles, nothing fetched from outside.
"use strict";
const IOCMap = (() => {
  function bounds(outline, devices) {
    let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
    const add = (lon, lat) => { minX = Math.min(minX, lon); maxX = Math.max(maxX, lon); minY = Math.min(minY, lat); maxY = Math.max(maxY, lat); };
    eachRing(outline, (ring) => ring.forEach(([lon, lat]) => add(lon, lat)));
    for (const d of devices) if (d.lat || d.lon) add(d.lon, d.lat);
    if (!isFinite(minX)) { minX = 105; maxX = 107; minY = 21; maxY = 22; }
    return { minX, minY, maxX, maxY };
  }
  function eachRing(gj, f) {
    if (!gj) return;
    const geoms = gj.type === "FeatureCollection" ? gj.features.map((x) => x.geometry) : gj.type === "Feature" ? [gj.geometry] : [gj];
    for (const g of geoms) {
      if (!g) continue;
      if (g.type === "Polygon") g.coordinates.forEach(f);
      if (g.type === "MultiPolygon") g.coordinates.forEach((p) => p.forEach(f));
    }
  }
  class Map {
    constructor(container, outline) {
      this.container = container;
      this.outline = outline;
      this.svg = null;
      this.markers = new window.Map();
    }
    project(lon, lat) {
      const b = this.b, k = Math.cos(((b.minY + b.maxY) / 2) * Math.PI / 180);
      return [(lon - b.minX) * k * 1000, (b.maxY - lat) * 1000];
    }
    draw(devices) {
      const b = bounds(this.outline, devices);
      const pad = 0.02;
      this.b = { minX: b.minX - pad, minY: b.minY - pad, maxX: b.maxX + pad, maxY: b.maxY + pad };
      const [w, h] = this.project(this.b.maxX, this.b.minY);
      const svg = IOC.el("svg", { viewBox: `0 0 ${w.toFixed(1)} ${h.toFixed(1)}`, preserveAspectRatio: "xMidYMid meet", role: "img" });
      eachRing(this.outline, (ring) => {
        const d = ring.map(([lon, lat], i) => (i ? "L" : "M") + this.project(lon, lat).map((v) => v.toFixed(1)).join(",")).join("") + "Z";
        svg.append(IOC.el("path", { d, class: "outline" }));
      });
      this.layer = IOC.el("g", {});
      svg.append(this.layer);
      this.container.replaceChildren(svg);
      this.svg = svg;
      this.markers.clear();
      this.r = Math.max(w, h) / 90;
    }
    update(devices, healthClass) {
      if (!this.svg) this.draw(devices);
      const seen = new Set();
      for (const d of devices) {
        if (!d.lat && !d.lon) continue;
        seen.add(d.id);
        let m = this.markers.get(d.id);
        if (!m) {
          const [x, y] = this.project(d.lon, d.lat);
          const r = d.kind === "camera" ? this.r * 0.7 : this.r;
          m = IOC.el("circle", { cx: x.toFixed(1), cy: y.toFixed(1), r: r.toFixed(1), dataset: { device: d.id } }, IOC.el("title", { text: d.name }));
          this.layer.append(m);
          this.markers.set(d.id, m);
        }
        m.setAttribute("class", "marker " + healthClass(d));
        // Problems on top, so a red marker is never hidden under green ones.
        if (d.health === CONTRACT.health.down || d.health === CONTRACT.health.degraded) this.layer.append(m);
      }
      for (const [id, m] of this.markers) if (!seen.has(id)) { m.remove(); this.markers.delete(id); }
    }
  }
  return { Map };
})();
