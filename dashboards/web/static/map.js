// The wall's map (Leaflet, vendored; no tiles: nothing is fetched from
// outside): the province outline and its districts with their names, the
// devices clustered with counts (leaflet.markercluster), a shape per kind
// and a sign per state so that colour is never the only cue, a pulse
// where a new alert is, and a legend. A click on a cluster zooms into it;
// on a device or a district it opens a panel on what is there.
"use strict";
const IOCMap = (() => {
  const { t, el } = IOC;
  // Shapes by kind; signs by state (drawn in the marker and the legend).
  const shapes = { camera: "square", nvr: "diamond", sensor: "circle", gateway: "triangle" };
  const signs = { "h-ok": "", "h-degraded": "!", "h-down": "✕", "h-unknown": "?", "h-maint": "⚒" };
  const stateKeys = { "h-ok": "ok", "h-degraded": "degraded", "h-down": "down", "h-unknown": "unknown", "h-maint": "maintenance" };
  // worse states first: a cluster shows its worst.
  const worstOrder = ["h-down", "h-degraded", "h-unknown", "h-maint", "h-ok"];
  const PULSE_MS = 60000; // how long a new alert's pulse lasts

  function markerHTML(kind, cls) {
    // The sign is text inside the shape; the shape is a CSS class.
    return `<span class="mk-shape mk-${shapes[kind] || "circle"} ${cls}"><span class="mk-sign">${signs[cls] || ""}</span></span>`;
  }

  // ringCentre: a polygon's middle, for a district's pulse and label.
  function centreOf(layer) { return layer.getBounds().getCenter(); }

  class Map {
    // prov is GET /api/v1/province (outline, boundaries); live() returns
    // the page's IOC.Live (alerts, devices, district names).
    constructor(container, prov, live) {
      this.container = container;
      this.prov = prov || {};
      this.live = live;
      this.markers = new window.Map(); // device id -> L.Marker
      this.state = new window.Map(); // device id -> class drawn
      this.districtLayers = new window.Map(); // district id -> L.Polygon
      this.pulses = new window.Map(); // alert id -> {marker, timer}
      this.lang = "";
      this.map = null;
      container.iocMap = this; // for tests and the console
    }

    build(devices) {
      const L = window.L;
      // Sizes follow the page's rem, as the wall's text does (4K: 30 px).
      this.rem = parseFloat(getComputedStyle(document.documentElement).fontSize) || 16;
      // The zoom buttons and the legend stand on the right, where fit()
      // keeps the districts out from under them.
      this.map = L.map(this.container, { attributionControl: false, zoomControl: false, zoomSnap: 0.25, minZoom: 7, maxZoom: 18, keyboard: false });
      L.control.zoom({ position: "topright" }).addTo(this.map);
      this.container.classList.add("leaflet-map");
      const layers = [];
      if (this.prov.outline) {
        const o = L.geoJSON(this.prov.outline, { interactive: false, style: { className: "outline", weight: 3, fill: false } }).addTo(this.map);
        layers.push(o);
      }
      if (this.prov.boundaries) {
        const b = L.geoJSON(this.prov.boundaries, {
          style: { className: "district-area", weight: 1.5, fillOpacity: 1 },
          onEachFeature: (f, layer) => {
            const id = f.properties && f.properties.district;
            if (!id) return;
            this.districtLayers.set(id, layer);
            layer.on("click", () => this.openDistrict(id));
            // a DOM node, not a string: Leaflet would take a string as HTML
            layer.bindTooltip(el("span", { dataset: { district: id } }), { permanent: true, direction: "center", className: "district-label" });
          },
        }).addTo(this.map);
        b.bringToBack();
        layers.push(b);
      }
      this.cluster = L.markerClusterGroup({
        showCoverageOnHover: false, maxClusterRadius: 56, spiderfyOnMaxZoom: true, zoomToBoundsOnClick: true,
        iconCreateFunction: (c) => this.clusterIcon(c),
      });
      this.map.addLayer(this.cluster);
      this.pulseLayer = L.layerGroup().addTo(this.map);
      this.legend = L.control({ position: "bottomright" });
      this.legend.onAdd = () => el("div", { class: "map-legend" });
      this.legend.addTo(this.map);
      this.relabel();
      this.detail = el("div", { class: "map-detail", hidden: true });
      this.container.append(this.detail);
      // The province fills the panel; without any shape, the devices do.
      let bounds = null;
      for (const l of layers) bounds = bounds ? bounds.extend(l.getBounds()) : L.latLngBounds(l.getBounds().getSouthWest(), l.getBounds().getNorthEast());
      for (const d of devices) if (d.lat || d.lon) bounds = bounds ? bounds.extend([d.lat, d.lon]) : L.latLngBounds([d.lat, d.lon], [d.lat, d.lon]);
      this.home = bounds || L.latLngBounds([21.3, 105.5], [22.1, 106.3]);
      this.fit();
      // A panel resized after the first layout (fonts, the grid, a feed
      // that grew) shows the province whole again, or the district open.
      if (window.ResizeObserver) new ResizeObserver(() => {
        this.map.invalidateSize();
        const d = this.detail.dataset.district;
        if (this.detail.hidden || !d || !this.districtLayers.has(d)) this.fit();
        else this.map.fitBounds(this.districtLayers.get(d).getBounds(), this.padding());
      }).observe(this.container);
    }

    // padding keeps what is fitted clear of the controls on the right
    // (the legend, the zoom buttons), so the legend never covers a
    // district.
    padding() {
      const right = Math.max(...[...this.container.querySelectorAll(".leaflet-right .leaflet-control")].map((c) => c.offsetWidth), 0);
      const gap = Math.round(this.rem * 0.4);
      return { paddingTopLeft: [gap, gap], paddingBottomRight: [right + 2 * gap, gap] };
    }
    // fit shows the whole province (its home bounds).
    fit() { this.map.fitBounds(this.home, this.padding()); }

    clusterIcon(c) {
      const ms = c.getAllChildMarkers();
      let worst = "h-ok";
      for (const m of ms) if (worstOrder.indexOf(m.options.iocState) < worstOrder.indexOf(worst)) worst = m.options.iocState;
      const bad = ms.filter((m) => m.options.iocState === "h-down" || m.options.iocState === "h-degraded").length;
      const n = ms.length;
      const size = Math.round(this.rem * (n < 10 ? 1.6 : n < 100 ? 1.9 : 2.2));
      return window.L.divIcon({
        className: `map-cluster ${worst}`, iconSize: [size, size],
        html: `<span class="cl-count">${IOC.num(n)}</span>${bad ? `<span class="cl-bad">${signs[worst] || "!"}${IOC.num(bad)}</span>` : ""}`,
      });
    }

    icon(d, cls) {
      const s = Math.round(this.rem * (d.kind === "camera" ? 0.9 : 1.1));
      return window.L.divIcon({ className: `map-marker k-${d.kind}`, iconSize: [s, s], html: markerHTML(d.kind, cls) });
    }

    // update draws devices in their states (healthClass gives "h-…").
    update(devices, healthClass) {
      if (!window.L) return;
      if (!this.map) this.build(devices);
      const L = window.L;
      const seen = new Set(), add = [], changed = [];
      for (const d of devices) {
        if (!d.lat && !d.lon) continue;
        seen.add(d.id);
        const cls = healthClass(d);
        let m = this.markers.get(d.id);
        if (!m) {
          m = L.marker([d.lat, d.lon], { icon: this.icon(d, cls), iocState: cls, iocDevice: d.id, keyboard: false, title: d.name });
          m.on("click", () => this.openDevice(d.id));
          this.markers.set(d.id, m);
          this.state.set(d.id, cls);
          add.push(m);
          continue;
        }
        if (this.state.get(d.id) !== cls) {
          this.state.set(d.id, cls);
          m.options.iocState = cls;
          m.setIcon(this.icon(d, cls));
          changed.push(m);
        }
      }
      const gone = [];
      for (const [id, m] of this.markers) if (!seen.has(id)) { gone.push(m); this.markers.delete(id); this.state.delete(id); }
      if (gone.length) this.cluster.removeLayers(gone);
      if (add.length) this.cluster.addLayers(add);
      if (changed.length) this.cluster.refreshClusters(changed);
      for (const [id, p] of this.pulses) if (!this.live().alerts.has(id)) this.unpulse(id);
      if (this.lang !== IOC.getLang()) this.relabel();
      this.renderDistrictLabels();
      if (!this.detail.hidden && this.detail.dataset.device) this.openDevice(this.detail.dataset.device);
      else if (!this.detail.hidden && this.detail.dataset.district) this.openDistrict(this.detail.dataset.district);
    }

    // relabel writes the legend in the page's language (its width, and so
    // the room the districts keep clear of it, may change).
    relabel() {
      const was = this.legend.getContainer().offsetWidth;
      this.lang = IOC.getLang();
      for (const [cls, key] of [["in", "zoom_in"], ["out", "zoom_out"]]) {
        const b = this.container.querySelector(".leaflet-control-zoom-" + cls);
        if (b) { b.title = t(key); b.setAttribute("aria-label", t(key)); }
      }
      const box = this.legend.getContainer();
      const kinds = Object.keys(shapes).map((k) => el("li", { dataset: { kind: k } }, el("span", { class: "lg-sym" }), el("span", { text: t(k) })));
      kinds.forEach((li, i) => { li.firstChild.innerHTML = markerHTML(Object.keys(shapes)[i], "h-ok"); });
      const states = Object.keys(signs).map((c) => {
        const li = el("li", { dataset: { state: c } }, el("span", { class: "lg-sym" }), el("span", { text: t(stateKeys[c]) }));
        li.firstChild.innerHTML = markerHTML("sensor", c);
        return li;
      });
      box.replaceChildren(
        el("div", { class: "lg-title", text: t("map_legend") }),
        el("ul", { class: "lg-kinds" }, ...kinds),
        el("ul", { class: "lg-states" }, ...states),
        el("ul", { class: "lg-extra" },
          el("li", {}, el("span", { class: "lg-sym lg-cluster", text: "12" }), el("span", { text: t("legend_cluster") })),
          el("li", {}, el("span", { class: "lg-sym lg-pulse" }), el("span", { text: t("legend_pulse") }))));
      if (this.home && this.legend.getContainer().offsetWidth !== was && (this.detail.hidden || !this.detail.dataset.district)) this.fit();
    }

    // renderDistrictLabels: each district's name and, when it has open
    // root-cause alerts, how many.
    renderDistrictLabels() {
      const live = this.live();
      const open = new window.Map();
      for (const a of live.alerts.values()) {
        if (a.suppressed || (a.parent && live.alerts.has(a.parent))) continue;
        open.set(a.district, (open.get(a.district) || 0) + 1);
      }
      for (const [id, layer] of this.districtLayers) {
        const n = open.get(id) || 0;
        const text = live.districtName(id) + (n ? ` · ${IOC.num(n)} ${t(n === 1 ? "alert_short" : "alerts_short")}` : "");
        const label = layer.getTooltip().getContent();
        if (label.textContent !== text) label.textContent = text;
        const path = layer.getElement && layer.getElement();
        if (path) { path.classList.toggle("has-alerts", n > 0); path.dataset.district = id; }
      }
    }

    // alert marks a new (or reopened) alert with a pulse at its device, or
    // at its district's middle for a district alert.
    alert(a, old) {
      if (!this.map || a.suppressed) return;
      const fresh = !old || old.raised_at !== a.raised_at || old.count !== a.count;
      if (!fresh) return;
      let at = null;
      const m = this.markers.get(a.device);
      if (m) at = m.getLatLng();
      else if (a.device.startsWith("district:") && this.districtLayers.has(a.device.slice(9))) at = centreOf(this.districtLayers.get(a.device.slice(9)));
      if (!at) return;
      this.unpulse(a.id);
      const p = window.L.marker(at, { interactive: false, keyboard: false, zIndexOffset: 1000,
        icon: window.L.divIcon({ className: `map-pulse sev-${a.severity}`, iconSize: [this.rem * 3, this.rem * 3], html: "<span></span><span></span>" }) });
      p.addTo(this.pulseLayer);
      p.getElement().dataset.alert = a.id;
      this.pulses.set(a.id, { marker: p, timer: setTimeout(() => this.unpulse(a.id), PULSE_MS) });
    }
    unpulse(id) {
      const p = this.pulses.get(id);
      if (!p) return;
      clearTimeout(p.timer);
      this.pulseLayer.removeLayer(p.marker);
      this.pulses.delete(id);
    }

    // openDevice: what the device is, its state and its open alerts.
    openDevice(id) {
      const live = this.live();
      const d = live.devices.get(id);
      if (!d) { this.close(); return; }
      const alerts = IOC.sortAlerts([...live.alerts.values()].filter((a) => a.device === id));
      const parts = [t(d.kind), live.districtName(d.district), t(d.status)];
      if (d.health === CONTRACT.health.degraded) parts.push(t("degraded"));
      if (d.maintenance) parts.push(t("maintenance"));
      if (d.parent) parts.push(`${t("parent")}: ${live.deviceName(d.parent)}`);
      this.show({ device: id }, d.name, parts.join(" · "),
        alerts.map((a) => el("li", { class: "sev-" + a.severity, dataset: { alert: a.id } }, `${t(a.severity)} · ${IOC.message(a)} · ${IOC.ago(a.raised_at)}`)));
    }

    // openDistrict: the district in view, its devices online and offline,
    // and its open root-cause alerts.
    openDistrict(id) {
      const live = this.live();
      const layer = this.districtLayers.get(id);
      if (this.detail.hidden || this.detail.dataset.district !== id) {
        if (layer) this.map.fitBounds(layer.getBounds(), this.padding());
      }
      const devs = [...live.devices.values()].filter((d) => d.district === id);
      const off = devs.filter((d) => d.status === CONTRACT.status.offline).length;
      const alerts = IOC.sortAlerts([...live.alerts.values()].filter((a) => a.district === id && !a.suppressed && !(a.parent && live.alerts.has(a.parent))));
      this.show({ district: id }, live.districtName(id),
        `${t("online")}: ${IOC.num(devs.length - off)}/${IOC.num(devs.length)} · ${t("offline")}: ${IOC.num(off)}`,
        alerts.slice(0, 12).map((a) => el("li", { class: "sev-" + a.severity, dataset: { alert: a.id } }, `${t(a.severity)} · ${IOC.message(a)} · ${IOC.ago(a.raised_at)}`)));
    }

    show(data, title, meta, items) {
      const box = this.detail;
      delete box.dataset.device; delete box.dataset.district;
      Object.assign(box.dataset, data);
      box.replaceChildren(
        el("button", { type: "button", class: "md-close", text: "✕", title: t("close"), "aria-label": t("close"), onclick: () => this.close() }),
        el("div", { class: "md-title", text: title }),
        el("div", { class: "md-meta", text: meta }),
        items.length ? el("ul", { class: "md-alerts" }, ...items) : el("div", { class: "md-empty", text: t("no_alerts") }));
      box.hidden = false;
    }

    close() {
      const wasDistrict = !!this.detail.dataset.district;
      this.detail.hidden = true;
      delete this.detail.dataset.device; delete this.detail.dataset.district;
      if (wasDistrict) this.fit();
    }
  }
  return { Map };
})();
