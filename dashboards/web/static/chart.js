// A small SVG line chart for one series of {t, mean} samples: no library,
// nothing fetched from outside.
"use strict";
const IOCChart = (() => {
  function draw(series, from, to) {
    const W = 360, H = 120, L = 36, B = 16;
    const xs = series.samples.map((s) => new Date(s.t).getTime());
    const ys = series.samples.map((s) => s.mean);
    let lo = Math.min(...ys), hi = Math.max(...ys);
    if (lo === hi) { lo -= 1; hi += 1; }
    const t0 = from.getTime(), t1 = to.getTime();
    const x = (v) => L + ((v - t0) / (t1 - t0)) * (W - L - 4);
    const y = (v) => 4 + (1 - (v - lo) / (hi - lo)) * (H - B - 8);
    const pts = xs.map((v, i) => `${x(v).toFixed(1)},${y(ys[i]).toFixed(1)}`).join(" ");
    const fmt = (v) => IOC.num(v, Math.abs(v) >= 100 ? 0 : 1);
    const svg = IOC.el("svg", { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none", role: "img" },
      IOC.el("line", { class: "axis", x1: L, y1: H - B, x2: W, y2: H - B }),
      IOC.el("line", { class: "axis", x1: L, y1: 4, x2: L, y2: H - B }),
      IOC.el("text", { x: 2, y: 12, text: fmt(hi) }),
      IOC.el("text", { x: 2, y: H - B, text: fmt(lo) }),
      IOC.el("text", { x: L, y: H - 2, text: IOC.dateTime(from) }),
      IOC.el("text", { x: W - 70, y: H - 2, text: IOC.dateTime(to) }),
      IOC.el("polyline", { points: pts }),
      // Sparse data (a device heard from a few times) shows as dots.
      ...(xs.length <= 48 ? xs.map((v, i) => IOC.el("circle", { class: "dot", cx: x(v).toFixed(1), cy: y(ys[i]).toFixed(1), r: 2.5 })) : []));
    return IOC.el("div", { class: "chart", dataset: { field: series.field, samples: series.samples.length } },
      IOC.el("div", { class: "label", text: IOC.field(series.field) }), svg);
  }
  return { draw };
})();
