// The technician's phone: open alerts by district or nearest first; a
// device's page with its last 24 h drawn and its alert history;
// acknowledge and resolve with a note.
"use strict";
(async () => {
  const { t, el } = IOC;
  const $ = (id) => document.getElementById(id);
  let districts = [];
  try {
    await IOC.loadSession();
    const prov = await IOC.api("GET", "/api/v1/province");
    districts = prov.districts;
    IOC.setPeople(prov.people);
  } catch (e) { return; }
  $("logout").addEventListener("click", IOC.logout);
  $("lang").addEventListener("click", () => { IOC.setLang(IOC.getLang() === "vi" ? "en" : "vi"); fillDistricts(); route(); });

  let district = localStorage.getItem("ioc.tech.district") || "";
  let here = null; // {lat, lon} when "nearest" is on
  function fillDistricts() {
    $("district").replaceChildren(el("option", { value: "", text: t("all_districts") }),
      ...districts.map((d) => el("option", { value: d.id, text: d.name, selected: d.id === district })));
  }
  fillDistricts();
  $("district").addEventListener("change", () => {
    district = $("district").value;
    localStorage.setItem("ioc.tech.district", district);
    live.setFilter(district ? { districts: [district] } : {});
  });
  $("nearest").addEventListener("click", () => {
    if (here) { here = null; $("nearest").setAttribute("aria-pressed", "false"); renderList(); return; }
    navigator.geolocation.getCurrentPosition((p) => {
      here = { lat: p.coords.latitude, lon: p.coords.longitude };
      $("nearest").setAttribute("aria-pressed", "true");
      renderList();
    }, (e) => alert(t(e.code === 1 ? "geo_denied" : e.code === 3 ? "geo_timeout" : "geo_unavailable")), { enableHighAccuracy: true, timeout: 10000 });
  });

  const live = new IOC.Live(district ? { districts: [district] } : {}, {
    onSnapshot: () => route(),
    onChange: IOC.throttle(() => route(true)),
    onStatus: (c) => { $("lost").hidden = c; document.body.dataset.connected = c ? "yes" : "no"; },
    onSync: (ok, since) => {
      $("stale").hidden = ok;
      $("stale").textContent = ok ? "" : IOC.t("stale_short").replace("{time}", since ? IOC.time(since) : "…");
      document.body.dataset.live = ok ? "yes" : "no";
    },
  });
  window.iocLive = live;

  // km between two points (haversine).
  function km(a, b) {
    const R = 6371, r = Math.PI / 180;
    const dLat = (b.lat - a.lat) * r, dLon = (b.lon - a.lon) * r;
    const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * r) * Math.cos(b.lat * r) * Math.sin(dLon / 2) ** 2;
    return 2 * R * Math.asin(Math.sqrt(h));
  }

  function alertCard(a, withActions) {
    const dev = live.devices.get(a.device);
    const place = live.deviceName(a.device), district = live.districtName(a.district);
    const meta = place === district ? [place] : [place, district];
    meta.push(IOC.dateTime(a.raised_at));
    if (a.ack) meta.push(`${t("acked_by")} ${IOC.person(a.ack.by)}`);
    const body = [el("span", { class: "msg", text: `${t(a.severity)} · ${IOC.message(a)}` }), el("span", { class: "meta", text: meta.join(" · ") })];
    if (here && dev && (dev.lat || dev.lon)) body.unshift(el("span", { class: "dist", text: `${IOC.num(km(here, dev), 1)} ${t("km")}` }));
    const cls = "card sev-" + a.severity;
    if (!withActions) {
      return el("li", { dataset: { alert: a.id } }, el("a", { class: cls, href: "#/device/" + encodeURIComponent(a.device) }, ...body));
    }
    const actions = el("div", { class: "actions" });
    if (IOC.can("technician")) {
      if (!a.ack) actions.append(el("button", { type: "button", class: "ack", text: t("ack"), onclick: () => command(a, "ack", "") }));
      actions.append(el("button", { type: "button", class: "resolve", text: t("resolve"), onclick: () => askResolve(a) }));
    }
    return el("li", { dataset: { alert: a.id } }, el("div", { class: cls }, ...body, actions));
  }

  function renderList() {
    let list = [...live.alerts.values()].filter((a) => !a.suppressed && (!district || a.district === district));
    if (here) {
      const d = (a) => { const dev = live.devices.get(a.device); return dev && (dev.lat || dev.lon) ? km(here, dev) : Infinity; };
      list.sort((a, b) => d(a) - d(b));
    } else {
      IOC.sortAlerts(list);
    }
    $("count").textContent = String(list.length);
    $("alerts").replaceChildren(...(list.length ? list.slice(0, 300).map((a) => alertCard(a, false)) : [el("li", { class: "empty", text: t("no_alerts") })]));
  }

  let shown = "";
  async function route(liveOnly) {
    IOC.translate(document);
    const m = location.hash.match(/^#\/device\/(.+)$/);
    $("list-view").hidden = !!m;
    $("device-view").hidden = !m;
    if (!m) { shown = ""; renderList(); return; }
    const id = decodeURIComponent(m[1]);
    renderDeviceAlerts(id);
    if (liveOnly && shown === id) return;
    shown = id;
    await renderDevice(id);
  }
  window.addEventListener("hashchange", () => route());

  function renderDeviceAlerts(id) {
    const list = IOC.sortAlerts([...live.alerts.values()].filter((a) => a.device === id));
    $("dev-alerts").replaceChildren(...(list.length ? list.map((a) => alertCard(a, true)) : [el("li", { class: "empty", text: t("no_alerts") })]));
    const d = live.devices.get(id);
    if (d) {
      $("dev-name").textContent = d.name;
      const parts = [t(d.kind), live.districtName(d.district), `${t("status")}: ${t(d.status)}`];
      if (d.health === "degraded") parts.push(t("degraded"));
      if (d.maintenance) parts.push(t("maintenance"));
      if (d.parent) parts.push(`${t("parent")}: ${(live.devices.get(d.parent) || { name: d.parent }).name}`);
      $("dev-meta").textContent = parts.join(" · ");
      $("dev-meta").dataset.status = d.status;
    }
  }

  async function renderDevice(id) {
    const to = new Date(), from = new Date(to.getTime() - 24 * 3600 * 1000);
    $("charts").replaceChildren(el("p", { class: "empty", text: "…" }));
    $("dev-history").replaceChildren();
    try {
      const q = `from=${encodeURIComponent(from.toISOString())}&to=${encodeURIComponent(to.toISOString())}`;
      const [hist, alerts] = await Promise.all([
        IOC.api("GET", `/api/v1/devices/${encodeURIComponent(id)}/history?${q}`),
        IOC.api("GET", `/api/v1/alerts/history?device=${encodeURIComponent(id)}&from=${encodeURIComponent(new Date(to - 7 * 24 * 3600 * 1000).toISOString())}&to=${encodeURIComponent(to.toISOString())}`),
      ]);
      if (shown !== id) return;
      const series = hist.series.filter((s) => s.samples.length > 0).slice(0, 6);
      $("charts").replaceChildren(...(series.length ? series.map((s) => IOCChart.draw(s, from, to)) : [el("p", { class: "empty", text: t("no_data") })]));
      $("dev-history").replaceChildren(...(alerts.entries.length ? alerts.entries.slice(0, 100).map((e) =>
        el("li", { dataset: { transition: e.transition } }, `${IOC.dateTime(e.at)} · ${t("transition_" + e.transition)} · ${IOC.getLang() === "en" ? e.message_en : e.message_vi}${e.by ? " · " + IOC.person(e.by) : ""}${e.note ? " — " + e.note : ""}`))
        : [el("li", { class: "empty", text: t("no_data") })]));
    } catch (e) {
      $("charts").replaceChildren(el("p", { class: "empty", text: t("failed") + ": " + e.message }));
    }
  }

  async function command(a, op, note) {
    const [rule, ...dev] = a.id.split("/");
    try {
      await IOC.api("POST", `/api/v1/alerts/${encodeURIComponent(rule)}/${encodeURIComponent(dev.join("/"))}/${op}`, { note });
      if (shown) setTimeout(() => { shown = ""; route(); }, 800); // history gains the entry
    } catch (e) {
      alert(t("failed") + ": " + e.message);
    }
  }

  let resolving = null;
  function askResolve(a) {
    resolving = a;
    $("resolve-note").value = "";
    $("resolve-dialog").showModal();
  }
  $("resolve-cancel").addEventListener("click", () => $("resolve-dialog").close());
  $("resolve-form").addEventListener("submit", (ev) => {
    const note = $("resolve-note").value.trim();
    if (!note) { ev.preventDefault(); return; }
    if (resolving) command(resolving, "resolve", note);
    resolving = null;
  });
})();
