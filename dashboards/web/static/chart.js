// Charts of one reading over time with uPlot (vendored): the field's name
// and unit, the alert rules' alarm levels drawn as lines and named below,
// a y-range that holds the data and the next alarm level and never turns
// a small change into a cliff, numbers in the page's language (vi-VN
// "23,8") and times in Asia/Ho_Chi_Minh.
"use strict";
const IOCChart = (() => {
  const { t, el } = IOC;
  const TZ = "Asia/Ho_Chi_Minh";
  const colours = { critical: "#ff3b3b", major: "#ff8c1a", minor: "#f5d000", info: "#4aa3ff" };

  // levelsFor: the alarm levels (GET /api/v1/province levels) on this
  // series that apply to device (its kind, district and id).
  function levelsFor(levels, device, s) {
    return (levels || []).filter((l) => l.field === s.field && (l.measurement || "telemetry") === s.measurement && applies(l.scope, device));
  }
  function applies(scope, d) {
    if (!scope || !d) return true;
    if (scope.kinds && scope.kinds.length && !scope.kinds.includes(d.kind)) return false;
    if (scope.districts && scope.districts.length && !scope.districts.includes(d.district)) return false;
    if (scope.devices && scope.devices.length && !scope.devices.includes(d.id)) return false;
    return true;
  }

  // range: the data's extent, widened to the nearest alarm level above
  // (and any below the top), to at least a tenth of the values' size (so
  // 14,7 -> 14,8 fps is not a cliff), with a margin.
  function range(ys, lines) {
    let lo = Math.min(...ys), hi = Math.max(...ys);
    const above = lines.filter((v) => v > hi).sort((a, b) => a - b);
    for (const v of lines) if (v <= hi) { lo = Math.min(lo, v); }
    if (above.length && above[0] <= Math.max(hi * 3, hi + 50)) hi = above[0];
    const minSpan = Math.max(Math.abs((hi + lo) / 2) * 0.1, 1);
    if (hi - lo < minSpan) { const mid = (hi + lo) / 2; lo = mid - minSpan / 2; hi = mid + minSpan / 2; }
    const pad = (hi - lo) * 0.08;
    lo -= pad; hi += pad;
    if (Math.min(...ys) >= 0 && lo < 0) lo = 0; // readings that cannot be negative
    return [lo, hi];
  }

  const timeFmt = () => new Intl.DateTimeFormat(IOC.getLang() === "vi" ? "vi-VN" : "en-GB", { timeZone: TZ, hour: "2-digit", minute: "2-digit", hour12: false });

  // levelText names a level: "Cao: > 150 (hết khi < 120)" / "Nghiêm
  // trọng: tăng > 20 trong 10 phút".
  function levelText(l) {
    if (l.kind === "rise") {
      return `${t(l.severity)}: ${t("level_rise").replace("{n}", IOC.num(l.delta)).replace("{min}", IOC.num(Math.round(l.window_ns / 6e10)))}`;
    }
    let s = `${t(l.severity)}: ${l.op} ${IOC.num(l.value)}`;
    if (l.clear !== undefined && l.clear !== null) s += ` (${t("level_clear").replace("{n}", IOC.num(l.clear))})`;
    return s;
  }

  // draw returns the chart of series s ({measurement, field, samples:
  // [{t, mean}]}) from o.from to o.to, o.width pixels wide, with the
  // alarm levels o.levels (levelsFor). With o.spark it is the line and
  // the alarm levels alone, o.height tall (the wall's readings panels say
  // the value and the level in large type beside it).
  function draw(s, o) {
    const xs = s.samples.map((p) => new Date(p.t).getTime() / 1000);
    const ys = s.samples.map((p) => p.mean);
    const levels = o.levels || [];
    const thresholds = levels.filter((l) => l.kind === "threshold" && typeof l.value === "number");
    const [lo, hi] = range(ys, thresholds.map((l) => l.value));
    const label = IOC.field(s.field);
    // o.unit: the unit the device's SenML readings gave the field, as sent.
    const box = el("div", { class: "chart" + (o.spark ? " spark" : ""), dataset: { field: s.field, samples: String(s.samples.length) } },
      o.spark ? null : el("div", { class: "label", text: label }, o.unit ? el("span", { class: "unit", translate: "no", text: " · " + o.unit }) : null));
    const plot = el("div", { class: "plot" });
    box.append(plot);
    const opts = {
      width: Math.max(o.spark ? 100 : 200, o.width || 340), height: o.height || 170,
      legend: { show: false },
      // ticks fall on Asia/Ho_Chi_Minh's hours, whatever the phone's zone
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), TZ),
      cursor: { y: false, points: { size: 6 } },
      scales: { x: { time: true, range: () => [o.from.getTime() / 1000, o.to.getTime() / 1000] }, y: { range: () => [lo, hi] } },
      series: [{}, { label, stroke: "#4aa3ff", width: 2, spanGaps: false, points: { show: xs.length <= 48, size: 5, fill: "#4aa3ff" } }],
      axes: o.spark ? [{ show: false }, { show: false }] : [
        { stroke: "#9fb0c8", grid: { stroke: "#1c2942" }, ticks: { stroke: "#2a3a5c" }, font: "12px sans-serif",
          values: (u, vals) => vals.map((v) => timeFmt().format(new Date(v * 1000))) },
        { stroke: "#9fb0c8", grid: { stroke: "#1c2942" }, ticks: { stroke: "#2a3a5c" }, font: "12px sans-serif", size: 52,
          values: (u, vals) => vals.map((v) => IOC.num(v, Math.abs(hi - lo) < 10 ? 1 : 0)) },
      ],
      hooks: {
        // the alarm levels: a solid line where an alert is raised, dashed
        // where it clears.
        draw: [(u) => {
          const c = u.ctx;
          c.save();
          c.lineWidth = 2 * devicePixelRatio;
          for (const l of thresholds) {
            for (const [v, dash] of [[l.value, []], [l.clear, [6, 5]]]) {
              if (typeof v !== "number" || v < lo || v > hi) continue;
              const y = Math.round(u.valToPos(v, "y", true));
              c.strokeStyle = colours[l.severity] || "#fff";
              c.setLineDash(dash.map((d) => d * devicePixelRatio));
              c.beginPath(); c.moveTo(u.bbox.left, y); c.lineTo(u.bbox.left + u.bbox.width, y); c.stroke();
            }
          }
          c.restore();
        }],
      },
    };
    const u = new uPlot(opts, [xs, ys], plot);
    box.iocChart = u; // for tests and the console
    box.dataset.ymin = String(lo); box.dataset.ymax = String(hi);
    if (o.spark) return box;
    if (levels.length) {
      box.append(el("ul", { class: "levels" }, ...levels.map((l) =>
        el("li", { dataset: { rule: l.rule, severity: l.severity, value: l.value === undefined ? "" : String(l.value) } },
          el("span", { class: "swatch sev-" + l.severity }), el("span", { text: levelText(l) })))));
    }
    const last = ys.length ? ys[ys.length - 1] : null;
    if (last !== null) box.append(el("div", { class: "last", text: `${t("last_value")}: ${IOC.num(last)} · ${IOC.dateTime(s.samples[s.samples.length - 1].t)}` }));
    return box;
  }
  return { draw, levelsFor, range };
})();
