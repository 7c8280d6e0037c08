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

  // Views. ?district=dai-tu,dinh-hoa shows those districts only (the
  // stream is filtered on the server; the tiles and the district table
  // count them alone). ?views=all|tp-thai-nguyen|dai-tu,dinh-hoa&every=60
  // turns through views, one every `every` seconds (default 60) on
  // IOC.clock: a playlist for walls of several screens.
  // body[data-view] is the current view ("all" or its districts).
  const q = new URLSearchParams(location.search);
  const parseView = (v) => (!v || v === "all") ? [] : v.split(",").map((x) => x.trim()).filter(Boolean);
  const views = q.get("views") ? q.get("views").split("|").map(parseView) : [parseView(q.get("district"))];
  let viewAt = 0;
  const view = () => views[viewAt];
  const inView = (district) => !view().length || view().includes(district);
  function renderView() {
    const v = view();
    document.body.dataset.view = v.length ? v.join(",") : "all";
    $("view").textContent = v.length ? v.map((d) => live.districtName(d)).join(", ") : t("view_all");
  }
  if (views.length > 1) {
    const every = Math.max(5, Number(q.get("every")) || 60) * 1000;
    IOC.clock.every(every, () => {
      viewAt = (viewAt + 1) % views.length;
      live.setFilter({ districts: view() });
      renderView();
    });
  }

  let sync = { ok: true, since: null }; // the server's picture follows the broker
  const live = new IOC.Live({ districts: view() }, {
    onSnapshot: () => { dirty.devices = true; render(); },
    onChange: (type) => { if (type === "device" || type === "device_removed") dirty.devices = true; renderSoon(); },
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
  // render(): a full redraw, as after a snapshot (for tests and benchmarks).
  window.iocWall = { render: () => { dirty.devices = true; render(); }, renderMap: () => renderMap() };

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

  // render draws what changed since the last frame. The parts that depend
  // on devices only (camera grid) are redrawn when a device changed; the
  // map, the costliest, at most once a second; text that did not change
  // is not touched (a storm of 2,000 alerts must still draw in one frame:
  // BenchmarkWallRender).
  const dirty = { devices: true, lang: "" };
  const renderSoon = IOC.throttle(() => render());
  let mapTimer = null;
  function render() {
    if (dirty.lang !== IOC.getLang()) { IOC.translate(document); dirty.lang = IOC.getLang(); dirty.devices = true; }
    renderView();
    renderBanner();
    document.body.dataset.alarm = alarming() ? "yes" : "no";
    renderSound();
    renderSummary();
    renderFeed();
    renderDistricts();
    // The feed's height moves the camera panel's: its pages are recounted.
    const box = $("cams");
    if (dirty.devices || !camM || camM.key !== `${box.clientWidth}x${box.clientHeight}`) {
      renderCams([...live.devices.values()]);
    }
    if (dirty.devices) {
      dirty.devices = false;
      if (!mapDrawn) renderMap();
      else if (!mapTimer) mapTimer = setTimeout(renderMap, 1000);
    }
  }
  let mapDrawn = false;
  function renderMap() {
    mapTimer = null;
    mapDrawn = true;
    map.update([...live.devices.values()], healthClass);
  }

  function tile(label, value, sub, cls) {
    return el("div", { class: "tile " + (cls || "") }, el("div", { class: "label", text: label }), el("div", { class: "value", text: String(value) }), sub ? el("div", { class: "sub", text: sub }) : null);
  }

  let summaryKey = "";
  function renderSummary() {
    const c = live.counts;
    if (!c) return;
    const out = [];
    // Devices being installed (registered, not yet heard from) are not
    // offline: they are counted apart, in their own tile.
    let commissioning = 0;
    for (const k of kinds) {
      let total = 0, on = 0, off = 0, com = 0;
      for (const [district, byKind] of Object.entries(c.devices)) {
        if (!inView(district)) continue;
        const n = byKind[k];
        if (n) { total += n.total; on += n.online; off += n.offline; com += n.commissioning || 0; }
      }
      if (!total) continue;
      commissioning += com;
      const x = tile(t(k), `${IOC.num(on)}/${IOC.num(total)}`, `${t("offline")}: ${IOC.num(off)}`, off ? "has-down" : "");
      x.dataset.kind = k; x.dataset.online = on; x.dataset.offline = off; x.dataset.total = total; x.dataset.commissioning = com;
      out.push(x);
    }
    if (commissioning) {
      const x = tile(t("commissioning"), IOC.num(commissioning), "", "commissioning");
      x.dataset.commissioning = commissioning;
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
      const x = tile(sevIcon[s] + " " + t(s), IOC.num(inc.length), sub, "sev-" + s);
      x.dataset.severity = s; x.dataset.count = inc.length; x.dataset.devices = devs; x.dataset.acked = acked;
      out.push(x);
    }
    const key = out.map((x) => x.outerHTML).join("");
    if (key !== summaryKey) { summaryKey = key; $("summary").replaceChildren(...out); }
  }

  // The camera grid. Recorders with a problem (the recorder or a camera
  // offline, in alarm or degraded) come first and stay on screen; the
  // healthy ones share the room left, a page at a time, turning every
  // camPageMs on IOC.clock (if the problems alone do not fit, they turn
  // instead). Each camera shows what tells it from the others on its
  // recorder (usually its number) and its state by icon and colour, never
  // colour alone; a camera with an open critical alert (tampered with) is
  // red. #cams[data-page] and [data-pages] say where the rotation is.
  const camPageMs = 10000;
  let camTurn = 0;
  IOC.clock.every(camPageMs, () => { camTurn++; renderCams([...live.devices.values()]); });
  const camIcon = { down: "✕", alarm: "⚠", degraded: "!", maint: "⚙", commissioning: "…", unknown: "?", ok: "✓" };
  const camRank = { down: 0, alarm: 0, degraded: 1, unknown: 2, commissioning: 2, maint: 2, ok: 3 };
  function camState(d) {
    if (d.maintenance) return "maint";
    if (d.status === CONTRACT.status.offline || d.health === CONTRACT.health.down) return "down";
    if (d.severity === CONTRACT.severity.critical) return "alarm";
    if (d.health === CONTRACT.health.degraded || d.severity) return "degraded";
    if (d.status === CONTRACT.status.commissioning) return "commissioning";
    if (d.status === CONTRACT.status.online) return "ok";
    return "unknown";
  }
  const stateWord = { down: "offline", alarm: "alarm", degraded: "degraded", maint: "maintenance", commissioning: "commissioning", unknown: "unknown", ok: "online" };
  // distinct strips the words that all of a recorder's cameras share at
  // the start and at the end of their names ("Camera BVTW 01" and
  // "Camera 01 Bệnh viện …" both give "01").
  function distinct(devs) {
    const words = devs.map((d) => d.name.split(/\s+/));
    const shortest = Math.min(...words.map((w) => w.length));
    let a = 0, b = 0;
    if (words.length > 1) {
      while (a < shortest - 1 && words.every((w) => w[a] === words[0][a])) a++;
      while (b < shortest - 1 - a && words.every((w) => w[w.length - 1 - b] === words[0][words[0].length - 1 - b])) b++;
    }
    return new Map(devs.map((d, i) => [d.id, words[i].slice(a, words[i].length - b).join(" ")]));
  }
  // byID orders ids by code unit: localeCompare costs a microsecond a call,
  // 15 ms a render with 4,000 cameras.
  const byID = (a, b) => (a < b ? -1 : a > b ? 1 : 0);
  let camGroups = [];
  function camGroupsOf(devices) {
    const byNVR = new Map();
    for (const d of devices) {
      if (d.kind !== "camera") continue;
      const k = d.parent || "";
      if (!byNVR.has(k)) byNVR.set(k, []);
      byNVR.get(k).push(d);
    }
    const groups = [];
    for (const [id, cams] of byNVR) {
      const nvr = live.devices.get(id);
      cams.sort((a, b) => byID(a.id, b.id));
      const states = cams.map(camState);
      const nvrState = nvr ? camState(nvr) : "unknown";
      const worst = Math.min(camRank[nvrState] === 0 ? 0 : 3, ...states.map((s) => camRank[s]));
      groups.push({ id, nvr, cams, states, nvrState, worst, ok: states.filter((s) => s === "ok").length, problem: worst <= 1 });
    }
    return groups.sort((a, b) => a.worst - b.worst || (b.cams.length - b.ok) - (a.cams.length - a.ok) || byID(a.id, b.id));
  }
  function camGroup(g) {
    const label = distinct(g.cams);
    const name = (g.nvr && nvrLabel.get(g.nvr.id)) || g.id || "—";
    const head = el("div", { class: "nvr-head" },
      el("span", { class: "state s-" + g.nvrState, text: camIcon[g.nvrState] }),
      el("span", { class: "name", text: name }),
      el("span", { class: "sub", text: t("cams_of").replace("{ok}", String(g.ok)).replace("{n}", String(g.cams.length)) }));
    return el("div", { class: "nvr" + (g.problem ? " problem" : ""), dataset: { nvr: g.id } }, head,
      el("div", { class: "tiles" }, ...g.cams.map((d, i) => {
        const st = g.states[i];
        return el("div", { class: "cam s-" + st, title: `${d.name} · ${t(stateWord[st])}`, dataset: { device: d.id, state: st } },
          el("span", { class: "icon", text: camIcon[st] }), el("span", { class: "num", text: label.get(d.id) }));
      })));
  }
  // camMetrics measures, once per panel size, how tall a recorder's group
  // is for n cameras (a head, then rows of tiles), so that paging 4,000
  // cameras costs arithmetic, not layout.
  let camM = null;
  function camMetrics(box) {
    const key = `${box.clientWidth}x${box.clientHeight}`;
    if (camM && camM.key === key) return camM;
    const fake = (n) => ({ id: "probe", nvr: null, nvrState: "ok", worst: 3, ok: n, problem: false,
      cams: Array.from({ length: n }, (_, i) => ({ id: "p" + i, name: "Camera " + String(i + 10) })), states: Array(n).fill("ok") });
    const one = camGroup(fake(1)), many = camGroup(fake(60));
    box.replaceChildren(one, many);
    const tiles = [...many.querySelectorAll(".cam")];
    const cols = Math.max(1, tiles.filter((e) => e.offsetTop === tiles[0].offsetTop).length);
    const rows = Math.ceil(60 / cols);
    const h1 = one.offsetHeight, hN = many.offsetHeight;
    const gap = many.offsetTop - (one.offsetTop + one.offsetHeight);
    camM = { key, cols, h1, row: rows > 1 ? (hN - h1) / (rows - 1) : 0, gap, room: box.clientHeight };
    box.replaceChildren();
    return camM;
  }
  let nvrLabel = new Map();
  function renderCams(devices) {
    camGroups = camGroupsOf(devices);
    // Recorders are named by what tells them apart ("Đầu ghi Bệnh viện …"
    // -> "Bệnh viện …": the panel says they are recorders).
    const nvrs = camGroups.filter((g) => g.nvr).map((g) => g.nvr);
    nvrLabel = nvrs.length > 1 ? distinct(nvrs) : new Map(nvrs.map((d) => [d.id, d.name]));
    const box = $("cams");
    const m = camMetrics(box);
    const height = (g) => m.h1 + (Math.ceil(g.cams.length / m.cols) - 1) * m.row + m.gap;
    const problems = camGroups.filter((g) => g.problem), healthy = camGroups.filter((g) => !g.problem);
    // Pinned: every problem recorder, if they fit together; otherwise the
    // problems are what turns.
    let used = 0;
    for (const g of problems) used += height(g);
    const pinAll = used <= m.room + m.gap;
    const pinned = pinAll ? problems : [];
    const rotating = pinAll ? healthy : problems;
    const room = (pinAll ? m.room + m.gap - used : m.room + m.gap);
    const pages = [];
    for (let i = 0; i < rotating.length;) {
      const start = i;
      let h = 0;
      while (i < rotating.length && h + height(rotating[i]) <= room) h += height(rotating[i++]);
      if (i === start) {
        if (pinAll) break; // no room beside the problems: the healthy wait
        i++; // a problem group taller than the panel still gets a page
      }
      pages.push([start, i]);
    }
    const page = pages.length ? camTurn % pages.length : 0;
    const shown = pinned.concat(pages.length ? rotating.slice(...pages[page]) : []);
    box.replaceChildren(...shown.map(camGroup));
    box.dataset.page = String(page + 1);
    box.dataset.pages = String(Math.max(1, pages.length));
    box.dataset.pinned = String(pinned.length);
    const parts = [];
    if (problems.length) parts.push(t("cam_problems").replace("{n}", IOC.num(problems.length)));
    if (pages.length > 1) parts.push(t("cam_page").replace("{k}", String(page + 1)).replace("{n}", String(pages.length)));
    $("cams-page").textContent = parts.join(" · ");
  }

  // renderFeed: root-cause alerts, most severe first, one two-line row
  // each (headline; age, district and place), in two columns filled top to
  // bottom. Only rows that fit whole are drawn; when some do not, the last
  // place says how many more are open ("+N nữa"). Rows are kept by alert
  // and rebuilt only when what they show changed (a storm of 2,000 alerts
  // changes one or two of them per update).
  const rowCache = new Map(); // alert id -> {key, li}
  let rowH = 0;
  function renderFeed() {
    const all = IOC.sortAlerts([...live.alerts.values()]);
    // Alerts folded under a recorder's or district's alert are shown once,
    // under their parent's count.
    const top = all.filter((a) => !a.parent || !live.alerts.has(a.parent));
    const kids = new Map();
    for (const a of all) if (a.parent && live.alerts.has(a.parent)) kids.set(a.parent, (kids.get(a.parent) || 0) + 1);
    $("alert-count").textContent = IOC.num(top.length);
    const feed = $("feed");
    if (!top.length) { rowCache.clear(); feed.replaceChildren(el("li", { class: "empty", text: t("no_alerts") })); return; }
    // The panel grows with its alerts up to its max-height: how many rows
    // a column holds at most is measured once per screen size.
    const gap = parseFloat(getComputedStyle(feed).rowGap) || 0;
    if (!rowH || rowH.w !== innerWidth || rowH.h !== innerHeight) {
      const probe = row(top[0], kids.get(top[0].id) || 0);
      feed.replaceChildren(probe);
      feed.style.setProperty("--rows", "1");
      const panel = feed.parentElement;
      const chrome = panel.offsetHeight - feed.offsetHeight;
      const maxH = parseFloat(getComputedStyle(panel).maxHeight) || panel.offsetHeight;
      rowH = { px: probe.offsetHeight, w: innerWidth, h: innerHeight, max: Math.max(1, Math.floor((maxH - chrome + gap) / (probe.offsetHeight + gap))) };
    }
    const perCol = Math.min(rowH.max, Math.max(1, Math.ceil(top.length / 2)));
    feed.style.setProperty("--rows", String(perCol));
    const room = perCol * 2;
    const n = top.length <= room ? top.length : room - 1;
    const rows = top.slice(0, n).map((a) => row(a, kids.get(a.id) || 0));
    const keep = new Set(top.slice(0, n).map((a) => a.id));
    for (const id of rowCache.keys()) if (!keep.has(id)) rowCache.delete(id);
    if (n < top.length) {
      const more = el("li", { class: "more", id: "feed-more", dataset: { more: String(top.length - n) }, text: t("more_alerts").replace("{n}", IOC.num(top.length - n)) });
      rows.push(more);
    }
    // Move only what moved.
    let cur = feed.firstChild;
    for (const li of rows) {
      if (cur === li) { cur = cur.nextSibling; continue; }
      feed.insertBefore(li, cur);
    }
    while (cur) { const next = cur.nextSibling; cur.remove(); cur = next; }
  }
  // row is the feed's row for a, reused while nothing it shows changed
  // (its age is part of that: the minute turns every 30 s check).
  function row(a, children) {
    const key = [IOC.getLang(), a.severity, a.count, a.raised_at, a.flaps, a.suppressed, a.ack ? a.ack.by + a.ack.at : "", children,
      IOC.message(a), IOC.ago(a.raised_at), live.deviceName(a.device), live.districtName(a.district)].join("\u0001");
    const c = rowCache.get(a.id);
    if (c && c.key === key) return c.li;
    const li = feedRow(a, children);
    rowCache.set(a.id, { key, li });
    return li;
  }

  // Severity by shape as well as colour.
  const sevIcon = { critical: "▲", major: "◆", minor: "●", info: "ℹ" };
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
      el("div", { class: "head" }, el("span", { class: "sev", title: t(a.severity), text: sevIcon[a.severity] }), el("span", { class: "msg", text: IOC.message(a) })),
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

  let districtsKey = "";
  function renderDistricts() {
    const c = live.counts;
    if (!c) return;
    const head = el("tr", {}, el("th", { text: t("district") }), ...kinds.filter((k) => k !== "gateway").map((k) => el("th", { text: t(k) })), el("th", { text: t("offline") }));
    const ids = [...live.districts.keys()].filter(inView);
    for (const id of Object.keys(c.devices)) if (!ids.includes(id) && inView(id)) ids.push(id);
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
    const key = [head, ...rows].map((x) => x.outerHTML).join("");
    if (key !== districtsKey) { districtsKey = key; $("districts").replaceChildren(head, ...rows); }
  }
})();
