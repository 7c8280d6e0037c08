// The availability report page (/reports/): a month's availability per
// integrator, district, recorder, gateway or device, worst first, with
// MTTA and MTTR; CSV download and a printable report.
"use strict";
(() => {
  const { t, el, api } = IOC;
  const $ = (id) => document.getElementById(id);
  const TZ = "Asia/Ho_Chi_Minh";
  const params = new URLSearchParams(location.search);
  let districts = new Map();
  let integrators = new Map();
  let rows = [];

  const loc = () => (IOC.getLang() === "vi" ? "vi-VN" : "en-GB");
  // pct writes 99.5213 as "99,52 %" (vi) or "99.52 %" (en), as the wall's
  // uptime column does.
  const pct = IOC.pct;
  function dur(s) {
    if (s === null || s === undefined) return "—";
    const n = (v) => new Intl.NumberFormat(loc()).format(v);
    if (s < 3600) return t("dur_m_s").replace("{m}", n(Math.floor(s / 60))).replace("{s}", n(s % 60));
    return t("dur_h_m").replace("{h}", n(Math.floor(s / 3600))).replace("{m}", n(Math.floor((s % 3600) / 60)));
  }
  function date(s) {
    return new Intl.DateTimeFormat(loc(), { timeZone: TZ, day: "2-digit", month: "2-digit", year: "numeric" }).format(new Date(s));
  }
  // monthRange is [first day, first day of the next month) in Vietnam.
  function monthRange(m) {
    const [y, mo] = m.split("-").map(Number);
    const pad = (v) => String(v).padStart(2, "0");
    const ny = mo === 12 ? y + 1 : y, nm = mo === 12 ? 1 : mo + 1;
    return [`${y}-${pad(mo)}-01T00:00:00+07:00`, `${ny}-${pad(nm)}-01T00:00:00+07:00`];
  }
  function lastMonth() {
    const p = {};
    for (const x of new Intl.DateTimeFormat("en-CA", { timeZone: TZ, year: "numeric", month: "2-digit" }).formatToParts(new Date())) p[x.type] = x.value;
    let y = Number(p.year), m = Number(p.month) - 1;
    if (m === 0) { y--; m = 12; }
    return `${y}-${String(m).padStart(2, "0")}`;
  }
  function query(extra) {
    const [from, to] = monthRange($("month").value);
    const q = new URLSearchParams({ from, to, group: $("group").value });
    if ($("period").value) q.set("period", $("period").value);
    if ($("district").value) q.set("district", $("district").value);
    if ($("integrator").value) q.set("integrator", $("integrator").value);
    for (const [k, v] of Object.entries(extra || {})) q.set(k, v);
    return q;
  }
  function keepInURL() {
    const q = new URLSearchParams({ month: $("month").value, group: $("group").value });
    for (const id of ["period", "district", "integrator", "sort"]) if ($(id).value) q.set(id, $(id).value);
    history.replaceState(null, "", "?" + q);
  }

  function render() {
    const sorted = rows.slice();
    if ($("sort").value === "name") sorted.sort((a, b) => (a.name || a.key).localeCompare(b.name || b.key, loc()) || a.start.localeCompare(b.start));
    const perBucket = $("period").value !== "";
    $("col-period").hidden = !perBucket;
    const body = $("rows");
    body.replaceChildren();
    for (const r of sorted) {
      const cls = r.available_pct === null ? "" : r.available_pct < 95 ? "bad" : r.available_pct < 99 ? "warn" : "";
      body.append(el("tr", { class: cls, dataset: { key: r.key } },
        el("td", { class: "name", text: r.name || r.key }),
        perBucket ? el("td", { text: date(r.start) }) : null,
        el("td", { class: "n", text: IOC.num(r.devices, 0) }),
        el("td", { class: "n avail", text: pct(r.available_pct) }),
        el("td", { class: "n", text: pct(r.online_pct) }),
        el("td", { class: "n", text: dur(r.down_s) }),
        el("td", { class: "n", text: dur(r.degraded_s) }),
        el("td", { class: "n", text: dur(r.maintenance_s) }),
        el("td", { class: "n", text: dur(r.unknown_s) }),
        el("td", { class: "n", text: IOC.num(r.incidents, 0) }),
        el("td", { class: "n mtta", text: dur(r.mtta_s) }),
        el("td", { class: "n mttr", text: dur(r.mttr_s) })));
    }
    $("status").textContent = rows.length ? "" : t("rep_empty");
    const [y, m] = $("month").value.split("-");
    let head = t("rep_heading").replace("{month}", `${m}/${y}`);
    const it = $("integrator").value, d = $("district").value;
    if (it) head += " — " + (integrators.get(it) || t("rep_integrator"));
    if (d) head += " — " + (districts.get(d) || t("district"));
    $("heading").textContent = head;
    const [from, to] = monthRange($("month").value);
    $("subtitle").textContent = t("rep_subtitle").replace("{from}", date(from)).replace("{to}", date(new Date(new Date(to) - 1)))
      .replace("{group}", $("group").selectedOptions[0].textContent);
    document.title = head;
  }

  async function load() {
    keepInURL();
    $("csv").href = "/api/v1/availability?" + query({ format: "csv" });
    $("status").textContent = t("syncing");
    try {
      const rep = await api("GET", "/api/v1/availability?" + query());
      rows = rep.rows;
      render();
      document.body.dataset.loaded = $("month").value + "/" + $("group").value;
    } catch (e) {
      rows = [];
      render();
      $("status").textContent = e.message;
    }
  }

  async function init() {
    IOC.translate(document);
    $("lang").addEventListener("click", () => { IOC.setLang(IOC.getLang() === "vi" ? "en" : "vi"); IOC.translate(document); render(); });
    $("logout").addEventListener("click", IOC.logout);
    $("print").addEventListener("click", () => window.print());
    await IOC.loadSession();
    if (!IOC.can("operator")) {
      $("status").textContent = t("err_forbidden");
      return;
    }
    const prov = await api("GET", "/api/v1/province");
    IOC.setPeople(prov.people);
    for (const d of prov.districts) {
      districts.set(d.id, d.name);
      $("district").append(el("option", { value: d.id, text: d.name }));
    }
    $("month").value = /^\d{4}-\d{2}$/.test(params.get("month") || "") ? params.get("month") : lastMonth();
    for (const id of ["group", "period", "sort"]) if (params.has(id)) $(id).value = params.get(id);
    const [from, to] = monthRange($("month").value);
    const its = await api("GET", "/api/v1/availability?" + new URLSearchParams({ from, to, group: "integrator" }));
    for (const r of its.rows.slice().sort((a, b) => (a.name || a.key).localeCompare(b.name || b.key, "vi-VN"))) {
      integrators.set(r.key, r.name || r.key);
      $("integrator").append(el("option", { value: r.key, text: r.name || r.key }));
    }
    if (params.get("district")) $("district").value = params.get("district");
    if (params.get("integrator")) $("integrator").value = params.get("integrator");
    for (const id of ["month", "group", "period", "district", "integrator"]) $(id).addEventListener("change", load);
    $("sort").addEventListener("change", () => { keepInURL(); render(); });
    $("filters").addEventListener("submit", (e) => { e.preventDefault(); load(); });
    await load();
  }
  init();
})();
