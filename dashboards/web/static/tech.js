// The technician's phone: open alerts folded by root cause (a recorder's
// or district's alert first, "+N camera" under it), most severe first and,
// within a severity, my district and the nearest first; a device's page
// with its last 24 h drawn and its alert history; a district's page with
// its offline devices; acknowledge, and resolve with a note after a
// warning when the fault persists. "Việc của tôi" (static/dispatch.js):
// the alerts dispatched to me or my team, each with its next steps as
// large buttons, its steps timestamped, its target counting down, and its
// timeline (#/timeline/<alert id>).
"use strict";
(async () => {
  const { t, el } = IOC;
  const $ = (id) => document.getElementById(id);
  let districts = [];
  let levels = []; // the alert rules' alarm levels, for the charts
  try {
    await IOC.loadSession();
    const prov = await IOC.api("GET", "/api/v1/province");
    districts = prov.districts;
    levels = prov.levels || [];
    IOC.setPeople(prov.people);
    IOCDispatch.setTeams(prov.teams);
  } catch (e) { return; }
  $("logout").addEventListener("click", () => { IOCOffline.forget(); IOC.logout(); });
  $("lang").addEventListener("click", () => { IOC.setLang(IOC.getLang() === "vi" ? "en" : "vi"); fillDistricts(); route(); });

  let district = localStorage.getItem("ioc.tech.district") || "";
  let here = null; // {lat, lon} when "nearest" is on
  function fillDistricts() {
    $("district").setAttribute("aria-label", t("my_district"));
    $("district").replaceChildren(el("option", { value: "", text: t("all_districts") }),
      ...districts.map((d) => el("option", { value: d.id, text: d.name, selected: d.id === district })));
  }
  fillDistricts();
  $("district").addEventListener("change", () => {
    district = $("district").value;
    localStorage.setItem("ioc.tech.district", district);
    renderList();
  });
  $("nearest").addEventListener("click", () => {
    if (here) { here = null; $("nearest").setAttribute("aria-pressed", "false"); renderList(); return; }
    if (!navigator.geolocation) { say(t("geo_unavailable"), true); return; }
    navigator.geolocation.getCurrentPosition((p) => {
      here = { lat: p.coords.latitude, lon: p.coords.longitude };
      $("nearest").setAttribute("aria-pressed", "true");
      renderList();
    }, (e) => say(t(e.code === 1 ? "geo_denied" : e.code === 3 ? "geo_timeout" : "geo_unavailable"), true), { enableHighAccuracy: true, timeout: 10000 });
  });
  // say shows a short message under the bar (geolocation, commands): in the
  // page's language, never the browser's English alert box.
  let sayTimer = 0;
  function say(msg, bad) {
    $("toast").textContent = msg;
    $("toast").dataset.kind = bad ? "error" : "ok";
    $("toast").hidden = false;
    clearTimeout(sayTimer);
    sayTimer = setTimeout(() => { $("toast").hidden = true; }, 6000);
  }

  // The stream is the whole province: the saved district orders the list,
  // it does not hide the device a colleague links to.
  // Offline: the last list saved on this phone, shown with its age until
  // the stream answers (static/offline.js).
  let saveTimer = 0;
  const saveSoon = () => { if (!saveTimer) saveTimer = setTimeout(() => { saveTimer = 0; IOCOffline.save(live); }, 2000); };
  const live = new IOC.Live({}, {
    onSnapshot: () => { IOCOffline.save(live); route(); renderOffline(); },
    onChange: IOC.throttle(() => { saveSoon(); route(true); }),
    onStatus: (c) => { $("lost").hidden = c; document.body.dataset.connected = c ? "yes" : "no"; renderOffline(); },
    onSync: (ok, since) => {
      $("stale").hidden = ok;
      $("stale").textContent = ok ? "" : IOC.t("stale_short").replace("{time}", since ? IOC.time(since) : "…");
      document.body.dataset.live = ok ? "yes" : "no";
    },
  });
  window.iocLive = live;
  // renderOffline says, while the stream is down, as of when the list is.
  let failed = false; // the stream has failed at least once since the page opened
  function renderOffline() {
    const at = live.connected || !(failed || navigator.onLine === false) ? null : IOCOffline.savedAt();
    $("offline").hidden = !at;
    $("offline").textContent = at ? t("offline_list").replace("{time}", IOC.dateTime(at)).replace("{ago}", IOC.ago(at)) : "";
    document.body.dataset.offline = at ? "yes" : "no";
  }
  setInterval(renderOffline, 30000); // the age moves on
  for (const ev of ["online", "offline"]) window.addEventListener(ev, renderOffline);
  live.ws.addEventListener("close", () => { failed = true; renderOffline(); });
  IOCOffline.register();

  // km between two points (haversine).
  function km(a, b) {
    const R = 6371, r = Math.PI / 180;
    const dLat = (b.lat - a.lat) * r, dLon = (b.lon - a.lon) * r;
    const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * r) * Math.cos(b.lat * r) * Math.sin(dLon / 2) ** 2;
    return 2 * R * Math.asin(Math.sqrt(h));
  }

  // href: where an alert leads: its device's page, or its district's for a
  // district alert ("district:dai-tu").
  function href(a) {
    return a.device.startsWith("district:") ? "#/district/" + encodeURIComponent(a.device.slice("district:".length))
      : "#/device/" + encodeURIComponent(a.device);
  }

  function alertCard(a, withActions, children) {
    const dev = live.devices.get(a.device);
    const place = live.deviceName(a.device), district = live.districtName(a.district);
    const meta = place === district ? [place] : [place, district];
    meta.push(IOC.dateTime(a.raised_at));
    if (a.ack) meta.push(`${t("acked_by")} ${IOC.person(a.ack.by)}`);
    if (a.flaps) meta.push(t("flapping").replace("{n}", String(a.flaps + 1)));
    const body = [el("span", { class: "msg", text: `${t(a.severity)} · ${IOC.message(a)}` }), el("span", { class: "meta", text: meta.join(" · ") })];
    if (here && dev && (dev.lat || dev.lon)) body.unshift(el("span", { class: "dist", text: `${IOC.num(km(here, dev), 1)} ${t("km")}` }));
    const cls = "card sev-" + a.severity + (a.ack ? " acked" : "");
    if (!withActions) {
      const li = el("li", { dataset: { alert: a.id } }, el("a", { class: cls, href: href(a) }, ...body));
      if (children && children.length) li.append(foldedList(a.id, children));
      return li;
    }
    const actions = el("div", { class: "actions" });
    if (IOC.can("technician")) {
      if (!a.ack) actions.append(el("button", { type: "button", class: "ack", text: t("ack"), onclick: () => command(a, CONTRACT.op.ack, "") }));
      actions.append(el("button", { type: "button", class: "resolve", text: t("resolve"), onclick: () => askResolve(a) }));
    }
    return el("li", { dataset: { alert: a.id } }, el("div", { class: cls }, ...body, actions));
  }

  // foldedList: the alerts folded under a root cause, behind "+N camera"
  // ("+N thiết bị" when they are not all cameras).
  const opened = new Set(); // parents whose folded list is open
  function foldedList(parent, children) {
    const cams = children.every((c) => { const d = live.devices.get(c.device); return d && d.kind === "camera"; });
    const det = el("details", { class: "folded", open: opened.has(parent) },
      el("summary", { text: t(cams ? "more_cameras" : "more_devices").replace("{n}", String(children.length)) }),
      el("ol", { class: "children" }, ...IOC.sortAlerts(children).map((c) =>
        el("li", { dataset: { alert: c.id } }, el("a", { href: href(c) },
          el("span", { text: live.deviceName(c.device) }), el("span", { class: "meta", text: IOC.message(c) }))))));
    det.addEventListener("toggle", () => { if (det.open) opened.add(parent); else opened.delete(parent); });
    return det;
  }

  // order: most severe first; within a severity my district, then the
  // nearest (when "nearest" is on), then unacknowledged, then newest.
  const sevRank = CONTRACT.severityRank; // contract.js
  function order(list) {
    const dist = (a) => { const dev = live.devices.get(a.device); return here && dev && (dev.lat || dev.lon) ? km(here, dev) : Infinity; };
    const mine = (a) => (district && a.district === district ? 0 : 1);
    return list.sort((a, b) => (sevRank[a.severity] - sevRank[b.severity]) || (mine(a) - mine(b)) ||
      ((dist(a) - dist(b)) || 0) || ((a.ack ? 1 : 0) - (b.ack ? 1 : 0)) || (new Date(b.raised_at) - new Date(a.raised_at)));
  }

  function renderList() {
    const all = [...live.alerts.values()].filter((a) => !a.suppressed);
    // Fold as the wall does: an alert whose parent is open is listed under
    // its root cause, however deep (a district's outage holds its
    // recorders', which hold their cameras'), not as a card of its own;
    // "+N" counts them all, as the wall's does.
    const kids = new Map();
    const top = [];
    for (const a of all) {
      if (!a.parent || !live.alerts.has(a.parent)) { top.push(a); continue; }
      let root = live.alerts.get(a.parent);
      for (let depth = 0; depth < 8 && root.parent && live.alerts.has(root.parent); depth++) root = live.alerts.get(root.parent);
      if (!kids.has(root.id)) kids.set(root.id, []);
      kids.get(root.id).push(a);
    }
    order(top);
    renderJobs(top);
    $("count").textContent = IOC.num(top.length);
    $("alerts").replaceChildren(...(top.length ? top.slice(0, 300).map((a) => alertCard(a, false, kids.get(a.id))) : [el("li", { class: "empty", text: t("no_alerts") })]));
  }

  // renderJobs: the alerts dispatched to me or my team, oldest step first.
  function renderJobs(top) {
    const jobs = top.filter(IOCDispatch.mine);
    $("jobs-box").hidden = !IOC.can("technician");
    $("jobs-count").textContent = String(jobs.length);
    $("jobs").replaceChildren(...(jobs.length ? jobs.map(jobCard) : [el("li", { class: "empty", text: t("no_jobs") })]));
  }
  const stepButton = { accept: "step_accept", en_route: "step_en_route", on_site: "step_on_site", fixed: "step_fixed" };
  function jobCard(a) {
    const place = live.deviceName(a.device), district = live.districtName(a.district);
    const d = IOCDispatch.due(a);
    const steps = el("ol", { class: "steps" }, ...(a.dispatch.steps || []).map((s) =>
      el("li", { dataset: { step: s.step } }, `${IOC.time(s.at)} · ${t("state_" + s.step)} · ${IOC.person(s.by)}${s.note ? " — " + s.note : ""}`,
        s.photo ? IOCDispatch.photo(IOCDispatch.photoURL(a.id, s.photo)) : null)));
    const actions = el("div", { class: "actions steps-actions" }, ...IOCDispatch.next(a).map((op) =>
      el("button", { type: "button", class: "step", dataset: { op }, text: t(stepButton[op]),
        onclick: (ev) => op === CONTRACT.op.fixed ? askFixed(a) : takeStep(a, op, "", ev.target) })));
    if (a.dispatch.step === "fixed") actions.append(el("button", { type: "button", class: "resolve", text: t("resolve"), onclick: () => askResolve(a) }));
    return el("li", { class: "job", dataset: { alert: a.id, step: a.dispatch.step } },
      el("div", { class: "card sev-" + a.severity },
        el("span", { class: "msg", text: `${t(a.severity)} · ${IOC.message(a)}` }),
        el("span", { class: "meta", text: place === district ? place : `${place} · ${district}` }),
        el("span", { class: "who", text: IOCDispatch.who(a) }),
        d ? el("span", { class: "due" + (d.late ? " late" : ""), text: d.text }) : null,
        steps, actions,
        el("a", { class: "tl-link", href: "#/timeline/" + encodeURIComponent(a.id), text: t("timeline") })));
  }
  async function takeStep(a, op, note, button, photo) {
    if (button) button.disabled = true;
    try {
      await IOCDispatch.step(a, op, note, photo);
      say(t("step_ok"));
    } catch (e) {
      say(t("failed") + ": " + e.message, true);
      if (button) button.disabled = false;
    }
  }
  let fixing = null;
  function askFixed(a) {
    fixing = a;
    $("fixed-note").value = "";
    $("fixed-note").maxLength = CONTRACT.maxNoteBytes;
    $("fixed-photo").value = "";
    $("fixed-what").textContent = `${IOC.message(a)} · ${live.deviceName(a.device)}`;
    $("fixed-dialog").showModal();
  }
  $("fixed-cancel").addEventListener("click", () => $("fixed-dialog").close());
  $("fixed-form").addEventListener("submit", async () => {
    const a = fixing, note = $("fixed-note").value.trim(), file = $("fixed-photo").files[0];
    fixing = null;
    if (!a) return;
    if (file) say(t("photo_sending"));
    takeStep(a, CONTRACT.op.fixed, note, null, file ? await IOCDispatch.shrink(file) : null);
  });
  setInterval(() => { if (!$("list-view").hidden) renderList(); }, 30000); // the targets count down

  // renderTimeline: an alert's timeline, again every 10 s while shown (the
  // store gets each entry just after the wall and phone do).
  let tlTimer = 0;
  async function renderTimeline(id) {
    clearTimeout(tlTimer);
    const a = live.alerts.get(id);
    $("tl-what").textContent = a ? `${IOC.message(a)} · ${live.deviceName(a.device)}` : live.deviceName(id.split("/").slice(1).join("/"));
    try { await IOCDispatch.timeline(id, $("timeline")); } catch (e) { $("timeline").replaceChildren(el("li", { class: "empty", text: t("failed") + ": " + e.message })); }
    tlTimer = setTimeout(() => { if (!$("timeline-view").hidden) renderTimeline(id); }, 10000);
  }

  let shown = "";
  async function route(liveOnly) {
    IOC.translate(document);
    const tl = location.hash.match(/^#\/timeline\/(.+)$/);
    $("timeline-view").hidden = !tl;
    if (tl) {
      shown = "";
      for (const v of ["list-view", "device-view", "district-view"]) $(v).hidden = true;
      if (!liveOnly) renderTimeline(decodeURIComponent(tl[1]));
      return;
    }
    const m = location.hash.match(/^#\/(device|district)\/(.+)$/);
    $("list-view").hidden = !!m;
    $("device-view").hidden = !m || m[1] !== "device";
    $("district-view").hidden = !m || m[1] !== "district";
    if (!m) { shown = ""; renderList(); return; }
    const id = decodeURIComponent(m[2]);
    if (m[1] === "district") { shown = ""; renderDistrict(id); return; }
    if (shown !== id) { fetched = null; $("dev-name").textContent = "…"; $("dev-meta").textContent = ""; delete $("dev-meta").dataset.status; }
    renderDeviceAlerts(id);
    if (liveOnly && shown === id) return;
    shown = id;
    await renderDevice(id);
  }
  window.addEventListener("hashchange", () => route());

  // renderDistrict: a district's page: its open district alert, and its
  // devices that are offline, each leading to its own page.
  function renderDistrict(id) {
    $("dist-name").textContent = live.districtName(id);
    const alerts = order([...live.alerts.values()].filter((a) => a.device === "district:" + id));
    $("dist-alerts").replaceChildren(...(alerts.length ? alerts.map((a) => alertCard(a, true)) : [el("li", { class: "empty", text: t("no_alerts") })]));
    const down = [...live.devices.values()].filter((d) => d.district === id && (d.status === CONTRACT.status.offline || d.health === CONTRACT.health.down))
      .sort((a, b) => a.name.localeCompare(b.name, "vi"));
    $("dist-meta").textContent = t("n_offline").replace("{n}", IOC.num(down.length));
    $("dist-devices").replaceChildren(...(down.length ? down.map((d) => el("li", { dataset: { device: d.id } },
      el("a", { class: "card", href: "#/device/" + encodeURIComponent(d.id) },
        el("span", { class: "msg", text: d.name }), el("span", { class: "meta", text: `${t(d.kind)} · ${t(d.status)}` }))))
      : [el("li", { class: "empty", text: t("no_data") })]));
  }

  // The device shown is always the one in the URL: from the live picture,
  // or from the API when the picture does not hold it.
  let fetched = null; // GET /api/v1/devices/{id} for the device shown
  function renderDeviceAlerts(id) {
    const d = live.devices.get(id) || (fetched && fetched.id === id ? fetched : null);
    let list = [...live.alerts.values()].filter((a) => a.device === id);
    if (!list.length && fetched && fetched.id === id && !live.devices.has(id)) list = fetched.active_alerts || [];
    IOC.sortAlerts(list);
    $("dev-alerts").replaceChildren(...(list.length ? list.map((a) => alertCard(a, true)) : [el("li", { class: "empty", text: t("no_alerts") })]));
    if (d) {
      $("dev-name").textContent = d.name;
      const parts = [t(d.kind), live.districtName(d.district), `${t("status")}: ${t(d.status)}`];
      if (d.health === CONTRACT.health.degraded) parts.push(t("degraded"));
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
      const [info, hist, alerts] = await Promise.all([
        IOC.api("GET", `/api/v1/devices/${encodeURIComponent(id)}`),
        IOC.api("GET", `/api/v1/devices/${encodeURIComponent(id)}/history?${q}`),
        IOC.api("GET", `/api/v1/alerts/history?device=${encodeURIComponent(id)}&from=${encodeURIComponent(new Date(to - 7 * 24 * 3600 * 1000).toISOString())}&to=${encodeURIComponent(to.toISOString())}`),
      ]);
      if (shown !== id) return;
      fetched = info;
      renderDeviceAlerts(id);
      const series = hist.series.filter((s) => s.samples.length > 0).slice(0, 6);
      $("charts").replaceChildren(...(series.length ? series.map((s) => IOCChart.draw(s,
        { from, to, width: $("charts").clientWidth - 12, levels: IOCChart.levelsFor(levels, info, s),
          unit: s.measurement === "telemetry" && info.units ? info.units[s.field] : undefined })) : [el("p", { class: "empty", text: t("no_data") })]));
      $("dev-history").replaceChildren(...(alerts.entries.length ? alerts.entries.slice(0, 100).map((e) =>
        el("li", { dataset: { transition: e.transition } }, `${IOC.dateTime(e.at)} · ${t("transition_" + e.transition)} · ${IOC.getLang() === "en" ? e.message_en : e.message_vi}${e.by ? " · " + IOC.person(e.by) : ""}${e.note ? " — " + e.note : ""}`))
        : [el("li", { class: "empty", text: t("no_data") })]));
    } catch (e) {
      if (shown !== id) return;
      $("charts").replaceChildren(el("p", { class: "empty", text: t("failed") + ": " + e.message }));
    }
  }

  async function command(a, op, note) {
    const [rule, ...dev] = a.id.split("/");
    try {
      await IOC.api("POST", `/api/v1/alerts/${encodeURIComponent(rule)}/${encodeURIComponent(dev.join("/"))}/${op}`, { note });
      if (op === CONTRACT.op.resolve) say(t("resolved_ok"));
      if (shown) setTimeout(() => { shown = ""; route(); }, 800); // history gains the entry
    } catch (e) {
      say(t("failed") + ": " + e.message, true);
    }
  }

  // fault: what still makes the alert true, or "" when nothing visible
  // does (its device back online, its district's devices back).
  function fault(a) {
    if (a.device.startsWith("district:")) {
      const id = a.device.slice("district:".length);
      const n = [...live.devices.values()].filter((d) => d.district === id && d.status === CONTRACT.status.offline).length;
      return n ? t("n_offline").replace("{n}", IOC.num(n)) : "";
    }
    const d = live.devices.get(a.device) || (fetched && fetched.id === a.device ? fetched : null);
    if (!d) return "";
    if (d.status === CONTRACT.status.offline) return t("offline");
    if (d.health === CONTRACT.health.down) return t("down");
    return "";
  }

  // askResolve names the alert in the dialog and, while its fault
  // persists, asks for an explicit confirmation before the note is sent.
  let resolving = null;
  function askResolve(a) {
    resolving = a;
    $("resolve-note").value = "";
    $("resolve-note").maxLength = CONTRACT.maxNoteBytes;
    $("resolve-what").textContent = `${t(a.severity)} · ${IOC.message(a)} · ${live.deviceName(a.device)}`;
    const f = fault(a);
    $("resolve-warn").hidden = !f;
    $("resolve-warn-text").textContent = f ? t("resolve_warn").replace("{what}", f) : "";
    $("resolve-confirm").checked = false;
    $("resolve-confirm").required = !!f;
    $("resolve-dialog").showModal();
  }
  $("resolve-cancel").addEventListener("click", () => $("resolve-dialog").close());
  $("resolve-form").addEventListener("submit", (ev) => {
    const note = $("resolve-note").value.trim();
    if (!note || ($("resolve-confirm").required && !$("resolve-confirm").checked)) { ev.preventDefault(); return; }
    if (resolving) command(resolving, CONTRACT.op.resolve, note);
    resolving = null;
  });

  // Until the stream answers, the list saved last: offline, all there is.
  if (!live.epoch && IOCOffline.restore(live)) { route(); renderOffline(); }
})();
