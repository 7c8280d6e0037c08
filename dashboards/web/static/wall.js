// The operations-centre wall: summary counts, map, camera grid by recorder,
// the live alert feed (critical alerts flash, with an optional sound), and
// per-district counts. Acknowledge from the wall when the role allows.
"use strict";
(async () => {
  const { t, el } = IOC;
  const $ = (id) => document.getElementById(id);
  let prov = null;
  try {
    await IOC.loadSession();
    prov = await IOC.api("GET", "/api/v1/province");
    IOC.setPeople(prov.people);
    $("province").textContent = prov.name;
  } catch (e) { return; }
  $("user").textContent = IOC.session().name || IOC.session().username;
  $("logout").addEventListener("click", IOC.logout);
  // An enrolled wall has nobody to log out; an admin may enrol walls.
  $("logout").hidden = !!IOC.session().kiosk;
  $("admin").hidden = !IOC.can("admin");
  $("lang").addEventListener("click", () => { IOC.setLang(IOC.getLang() === "vi" ? "en" : "vi"); render(); renderSound(); });

  // Sound: on unless the operator turned it off. The browser may keep the
  // AudioContext suspended until someone interacts with the page (after
  // any reload of an unattended wall): the button then says so
  // ("Âm thanh bị chặn — bấm để bật") and the first click or key anywhere
  // unlocks it. body[data-sound] is "off", "on" or "blocked".
  let sound = localStorage.getItem("ioc.sound") !== "off";
  let audio = null;
  function audioState() {
    if (!sound) return "off";
    if (!audio) return "blocked";
    return audio.state === "running" ? "on" : "blocked";
  }
  function renderSound() {
    const st = audioState();
    document.body.dataset.sound = st;
    $("sound").textContent = t(st === "on" ? "sound_on" : st === "off" ? "sound_off" : "sound_blocked");
    $("sound").classList.toggle("blocked", st === "blocked");
  }
  function openAudio() {
    if (audio || !sound) return;
    try {
      audio = new AudioContext();
      audio.addEventListener("statechange", renderSound);
    } catch (e) { audio = null; /* no audio device */ }
  }
  function unlock() {
    openAudio();
    if (audio && audio.state !== "running") audio.resume().then(renderSound, renderSound);
  }
  for (const ev of ["pointerdown", "keydown"]) document.addEventListener(ev, () => { if (sound) unlock(); }, true);
  $("sound").addEventListener("click", () => {
    // A click on "blocked" unlocks; on "on" it turns sound off.
    if (audioState() === "blocked") { unlock(); renderSound(); return; }
    sound = !sound;
    localStorage.setItem("ioc.sound", sound ? "on" : "off");
    if (sound) { unlock(); beep(); }
    renderSound();
  });
  // beep: a short two-tone alarm made by WebAudio (no file to fetch).
  let beeps = 0;
  function beep() {
    if (audioState() !== "on") return;
    const now = audio.currentTime;
    for (const [i, f] of [880, 660, 880].entries()) {
      const o = audio.createOscillator(), g = audio.createGain();
      o.frequency.value = f; g.gain.value = 0.2;
      o.connect(g).connect(audio.destination);
      o.start(now + i * 0.18); o.stop(now + i * 0.18 + 0.15);
    }
    document.body.dataset.beeps = String(++beeps);
  }
  openAudio();
  renderSound();

  const clock = () => { $("clock").textContent = IOC.time(new Date()); };
  setInterval(clock, 1000); clock();
  setInterval(() => renderFeed(), 30000); // ages ("12 phút trước") move on

  const map = new IOCMap.Map($("map"), prov, () => live);
  const kinds = ["camera", "nvr", "sensor", "gateway"];
  const sevs = CONTRACT.severities; // contract.js
  const healthClass = (d) => d.maintenance ? "h-maint" : "h-" + (d.health || CONTRACT.health.unknown);

  let sync = { ok: true, since: null }; // the server's picture follows the broker
  const live = new IOC.Live({}, {
    onSnapshot: () => render(),
    onChange: IOC.throttle(() => render()),
    onStatus: (c) => {
      $("lost").hidden = c;
      $("conn").className = "conn " + (c ? "on" : "off");
      document.body.dataset.connected = c ? "yes" : "no";
    },
    onLagging: () => notice(t("lagging")),
    onSync: (ok, since) => {
      // The server lost the broker: what is shown is as of `since`.
      sync = { ok, since };
      renderStale();
      $("conn").classList.toggle("stale", !ok);
      document.body.dataset.live = ok ? "yes" : "no";
    },
    onAlert: (a, old) => {
      map.alert(a, old); // a pulse where it is
      // New, reopened or renotified critical alert: the banner, and a beep
      // at once (the alarm then repeats while it stays unacknowledged).
      const fresh = !old || old.count !== a.count || old.raised_at !== a.raised_at;
      if (fresh && a.severity === CONTRACT.severity.critical && !a.ack && !a.suppressed && !a.parent) {
        announce(a);
        beep();
      }
    },
  });
  window.iocLive = live; // for tests and the console

  // renderStale says since when the picture is stale, in the current
  // language (called on every render, so a language switch reaches it).
  function renderStale() {
    $("stale").hidden = sync.ok;
    $("stale").textContent = sync.ok ? "" : t("stale").replace("{time}", sync.since ? IOC.time(sync.since) : "…");
  }

  // The banner: a full-width strip across the top of the wall that pulses
  // white and red (a strong luminance change, seen from the side of the
  // eye) for 10 s and then stays red until someone presses "Đã thấy" or
  // the alert is acknowledged or closed.
  let bannerAlert = null;
  function announce(a) {
    bannerAlert = a.id;
    bannerText(a);
    $("banner").dataset.alert = a.id;
    $("banner").hidden = false;
    // restart the pulse for each new alert
    $("banner").classList.remove("pulse"); void $("banner").offsetWidth; $("banner").classList.add("pulse");
  }
  // bannerText is set on every render, so a language switch reaches it.
  function bannerText(a) {
    $("banner-text").textContent = `${t("banner_new_critical")}: ${IOC.message(a)} · ${live.districtName(a.district)}`;
  }
  function renderBanner() {
    renderStale();
    if (!bannerAlert) return;
    const a = live.alerts.get(bannerAlert);
    if (!a || a.ack || a.suppressed) { bannerAlert = null; $("banner").hidden = true; return; }
    bannerText(a);
  }
  $("banner-seen").addEventListener("click", () => { bannerAlert = null; $("banner").hidden = true; });

  // The alarm repeats every 4 s while a critical root-cause alert is open
  // and unacknowledged; body[data-alarm] says whether it is armed.
  function alarming() {
    for (const a of live.alerts.values()) {
      if (a.severity === CONTRACT.severity.critical && !a.ack && !a.suppressed && (!a.parent || !live.alerts.has(a.parent))) return true;
    }
    return false;
  }
  setInterval(() => { if (alarming()) beep(); }, 4000);

  function notice(msg) {
    $("notice").textContent = msg;
    $("notice").hidden = false;
    setTimeout(() => { $("notice").hidden = true; }, 5000);
  }

  function render() {
    IOC.translate(document);
    renderBanner();
    document.body.dataset.alarm = alarming() ? "yes" : "no";
    renderSound();
    renderSummary();
    const devices = [...live.devices.values()];
    map.update(devices, healthClass);
    renderCams(devices);
    renderFeed();
    renderDistricts();
  }

  function tile(label, value, sub, cls) {
    return el("div", { class: "tile " + (cls || "") }, el("div", { class: "label", text: label }), el("div", { class: "value", text: String(value) }), sub ? el("div", { class: "sub", text: sub }) : null);
  }

  function renderSummary() {
    const c = live.counts;
    if (!c) return;
    const out = [];
    for (const k of kinds) {
      let total = 0, on = 0, off = 0;
      for (const byKind of Object.values(c.devices)) {
        const n = byKind[k];
        if (n) { total += n.total; on += n.online; off += n.offline; }
      }
      if (!total) continue;
      const x = tile(t(k), `${on}/${total}`, `${t("offline")}: ${off}`, off ? "has-down" : "");
      x.dataset.kind = k; x.dataset.online = on; x.dataset.offline = off; x.dataset.total = total;
      out.push(x);
    }
    // Severity tiles count incidents: root-cause alerts, as the feed shows
    // them (an NVR outage with 9 cameras is 1). Where folded alerts make
    // the devices affected more, the tile says both.
    const all = [...live.alerts.values()];
    const top = all.filter((a) => !a.parent || !live.alerts.has(a.parent));
    for (const s of sevs) {
      const inc = top.filter((a) => a.severity === s);
      const devs = all.filter((a) => a.severity === s).length;
      const acked = inc.filter((a) => a.ack).length;
      let sub = `${t("acked_count")}: ${acked}`;
      if (devs !== inc.length) sub += ` · ${devs} ${t("folded")}`;
      const x = tile(t(s), inc.length, sub, "sev-" + s);
      x.dataset.severity = s; x.dataset.count = inc.length; x.dataset.devices = devs; x.dataset.acked = acked;
      out.push(x);
    }
    $("summary").replaceChildren(...out);
  }

  function renderCams(devices) {
    const byNVR = new Map();
    const byID = new Map(devices.map((d) => [d.id, d]));
    for (const d of devices) {
      if (d.kind !== "camera") continue;
      const k = d.parent || "";
      if (!byNVR.has(k)) byNVR.set(k, []);
      byNVR.get(k).push(d);
    }
    const groups = [...byNVR.entries()].sort((a, b) => {
      const bad = (l) => l.filter((d) => d.health === CONTRACT.health.down || d.health === CONTRACT.health.degraded).length;
      return bad(b[1]) - bad(a[1]) || a[0].localeCompare(b[0]);
    });
    $("cams").replaceChildren(...groups.map(([nvrID, cams]) => {
      const nvr = byID.get(nvrID);
      const head = el("div", { class: "nvr-head" },
        el("span", { class: "dot " + (nvr ? healthClass(nvr) : "h-unknown") }),
        el("span", { text: nvr ? nvr.name : nvrID || "—" }),
        el("span", { class: "sub", text: live.districtName(nvr ? nvr.district : cams[0].district) }));
      cams.sort((a, b) => a.id.localeCompare(b.id));
      return el("div", { class: "nvr", dataset: { nvr: nvrID } }, head,
        el("div", { class: "tiles" }, ...cams.map((d) => el("div", { class: "cam " + healthClass(d), title: d.name, dataset: { device: d.id, health: d.health } }, d.name.replace(/^Camera\s+/i, "")))));
    }));
  }

  // renderFeed: root-cause alerts, most severe first, one compact row each
  // (headline; place, district and age in large type). Rows that do not fit
  // whole are not drawn; the last row says how many more are open
  // ("+N nữa").
  function renderFeed() {
    const all = IOC.sortAlerts([...live.alerts.values()]);
    // Alerts folded under a recorder's or district's alert are shown once,
    // under their parent's count.
    const top = all.filter((a) => !a.parent || !live.alerts.has(a.parent));
    const kids = new Map();
    for (const a of all) if (a.parent && live.alerts.has(a.parent)) kids.set(a.parent, (kids.get(a.parent) || 0) + 1);
    $("alert-count").textContent = String(top.length);
    const feed = $("feed");
    if (!top.length) { feed.replaceChildren(el("li", { class: "empty", text: t("no_alerts") })); return; }
    // More rows than a wall can hold are never drawn (60 at 4K hold ~25).
    const rows = top.slice(0, 60).map((a) => feedRow(a, kids.get(a.id) || 0));
    feed.replaceChildren(...rows);
    const fits = (li) => li.offsetTop + li.offsetHeight <= feed.clientHeight + 1;
    let shown = rows.findIndex((li) => !fits(li));
    if (shown < 0 && top.length <= rows.length) return;
    if (shown < 0) shown = rows.length;
    for (const li of rows.slice(shown)) li.remove();
    const more = el("li", { class: "more", id: "feed-more" });
    const say = () => { more.textContent = t("more_alerts").replace("{n}", IOC.num(top.length - shown)); more.dataset.more = String(top.length - shown); };
    say();
    feed.append(more);
    // the "+N" row takes a row's place when it does not fit
    while (shown > 0 && !fits(more)) { rows[--shown].remove(); say(); }
  }

  function feedRow(a, children) {
    const place = live.deviceName(a.device), district = live.districtName(a.district);
    const where = place === district ? [district] : [district, place];
    const meta = [el("span", { class: "age", text: IOC.ago(a.raised_at) }), el("span", { class: "where", text: where.join(" · ") })];
    const notes = [];
    if (children) notes.push(`+${children} ${t("folded")}`);
    if (a.ack) notes.push(`${t("acked_by")} ${IOC.person(a.ack.by)} ${IOC.time(a.ack.at)}`);
    if (a.suppressed) notes.push(t("suppressed"));
    if (a.flaps) notes.push(t("flapping").replace("{n}", String(a.flaps + 1)));
    if (notes.length) meta.push(el("span", { class: "notes", text: notes.join(" · ") }));
    const cls = ["alert", "sev-" + a.severity, a.ack ? "acked" : "", a.suppressed ? "suppressed" : "",
      a.severity === CONTRACT.severity.critical && !a.ack && !a.suppressed ? "flash" : ""].join(" ");
    const li = el("li", { class: cls, dataset: { alert: a.id, severity: a.severity }, title: `${t("raised")} ${IOC.dateTime(a.raised_at)}` },
      el("div", { class: "head" }, el("span", { class: "sev", text: t(a.severity) }), el("span", { class: "msg", text: IOC.message(a) })),
      el("div", { class: "meta" }, ...meta));
    if (!a.ack && IOC.can("technician")) {
      li.append(el("button", { type: "button", class: "ack", text: t("ack"), onclick: (ev) => ack(a, ev.target) }));
    }
    return li;
  }

  async function ack(a, button) {
    button.disabled = true;
    const [rule, ...dev] = a.id.split("/");
    try {
      await IOC.api("POST", `/api/v1/alerts/${encodeURIComponent(rule)}/${encodeURIComponent(dev.join("/"))}/${CONTRACT.op.ack}`, { note: "" });
    } catch (e) {
      notice(t("failed") + ": " + e.message);
      button.disabled = false;
    }
  }

  function renderDistricts() {
    const c = live.counts;
    if (!c) return;
    const head = el("tr", {}, el("th", { text: t("district") }), ...kinds.filter((k) => k !== "gateway").map((k) => el("th", { text: t(k) })), el("th", { text: t("offline") }));
    const ids = [...live.districts.keys()];
    for (const id of Object.keys(c.devices)) if (!ids.includes(id)) ids.push(id);
    const rows = ids.map((id) => {
      const byKind = c.devices[id] || {};
      let off = 0;
      const cells = kinds.filter((k) => k !== "gateway").map((k) => {
        const n = byKind[k];
        if (n) off += n.offline;
        return el("td", { text: n ? `${n.online}/${n.total}` : "–" });
      });
      return el("tr", { dataset: { district: id } }, el("td", { text: live.districtName(id) }), ...cells, el("td", { class: off ? "down" : "ok", text: String(off) }));
    });
    $("districts").replaceChildren(head, ...rows);
  }
})();
