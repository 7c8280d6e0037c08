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
    IOCDispatch.setTeams(prov.teams);
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
    setData(document.body, "sound", st);
    setText($("sound"), t(st === "on" ? "sound_on" : st === "off" ? "sound_off" : "sound_blocked"));
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
  setInterval(() => { renderFeed(); renderResolved(); }, 30000); // ages ("12 phút trước") move on

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
    setData(document.body, "view", v.length ? v.join(",") : "all");
    setText($("view"), v.length ? v.map((d) => live.districtName(d)).join(", ") : t("view_all"));
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
    onSnapshot: () => { dirty.devices = true; cams.all = true; render(); loadReadings(); },
    onChange: (type, m) => {
      if (type === "device") camTouched(m.device);
      if (type === "device_removed") camTouched(null);
      if (type === "device" || type === "device_removed") dirty.devices = true;
      renderSoon();
    },
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
  // render(): a full redraw, as after a snapshot (for tests that change
  // the picture by hand); frame(): the frame a delta asks for, drawn now
  // (for the render benchmark).
  window.iocWall = { render: () => { dirty.devices = true; cams.all = true; render(); }, frame: () => render(), renderMap: () => renderMap() };

  // renderStale says since when the picture is stale, in the current
  // language (called on every render, so a language switch reaches it).
  function renderStale() {
    $("stale").hidden = sync.ok;
    setText($("stale"), sync.ok ? "" : t("stale").replace("{time}", sync.since ? IOC.time(sync.since) : "…"));
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
    // what happened first: the line ends in "…" on the place, not the what
    const h = headline(a), district = live.districtName(a.district);
    setText($("banner-text"), [`${t("banner_new_critical")}: ${h.what}`, h.place, h.place !== district ? district : ""].filter(Boolean).join(" · "));
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
    // A language change redraws everything at once, the map too (its
    // legend and labels).
    if (dirty.lang !== IOC.getLang()) { IOC.translate(document); dirty.lang = IOC.getLang(); dirty.devices = true; cams.all = true; mapDrawn = false; }
    renderView();
    renderBanner();
    setData(document.body, "alarm", alarming() ? "yes" : "no");
    renderSound();
    renderSummary();
    renderFeed();
    renderDistricts();
    renderResolved();
    renderReadings();
    // The feed's height moves the camera panel's: its pages are recounted
    // by the panel's ResizeObserver.
    if (dirty.devices || !camM) renderCams();
    if (dirty.devices) {
      dirty.devices = false;
      // A new language relabels the map's legend at once, not a second later.
      if (!mapDrawn || map.lang !== IOC.getLang()) { clearTimeout(mapTimer); renderMap(); }
      else if (!mapTimer) mapTimer = setTimeout(renderMap, 1000);
    }
  }
  let mapDrawn = false;
  function renderMap() {
    mapTimer = null;
    mapDrawn = true;
    map.update([...live.devices.values()], healthClass);
  }

  // Tiles are kept by what they count (a kind, "commissioning", a
  // severity); one whose text changed is rewritten in place, so a delta
  // does not rebuild the summary row.
  const tiles = new Map(); // id -> {key, el}
  function tile(id, label, value, sub, cls, data) {
    const key = [label, value, sub, cls, JSON.stringify(data)].join("\u0001");
    let x = tiles.get(id);
    if (!x) {
      x = { key: "", el: el("div", {}, el("div", { class: "label" }), el("div", { class: "value" }), el("div", { class: "sub" })) };
      tiles.set(id, x);
    }
    if (x.key !== key) {
      x.key = key;
      const [l, v, u] = x.el.children;
      x.el.className = "tile " + (cls || "");
      setText(l, label); setText(v, String(value)); setText(u, sub || "");
      u.hidden = !sub;
      for (const k of Object.keys(x.el.dataset)) if (!(k in data)) delete x.el.dataset[k];
      for (const [k, d] of Object.entries(data)) setData(x.el, k, String(d));
    }
    return x.el;
  }

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
      out.push(tile("kind-" + k, t(k), `${IOC.num(on)}/${IOC.num(total)}`, `${t("offline")}: ${IOC.num(off)}`, off ? "has-down" : "",
        { kind: k, online: on, offline: off, total, commissioning: com }));
    }
    if (commissioning) out.push(tile("commissioning", t("commissioning"), IOC.num(commissioning), "", "commissioning", { commissioning }));
    // Severity tiles count incidents: root-cause alerts, as the feed shows
    // them (an NVR outage with 9 cameras is 1). Where folded alerts make
    // the devices affected more, the tile says both.
    const inc = {}, devs = {}, acked = {};
    for (const s of sevs) { inc[s] = 0; devs[s] = 0; acked[s] = 0; }
    for (const a of live.alerts.values()) {
      devs[a.severity]++;
      if (a.parent && live.alerts.has(a.parent)) continue;
      inc[a.severity]++;
      if (a.ack) acked[a.severity]++;
    }
    for (const s of sevs) {
      let sub = `${t("acked_count")}: ${acked[s]}`;
      if (devs[s] !== inc[s]) sub += ` · ${devs[s]} ${t("folded")}`;
      out.push(tile("sev-" + s, sevIcon[s] + " " + t(s), IOC.num(inc[s]), sub, "sev-" + s, { severity: s, count: inc[s], devices: devs[s], acked: acked[s] }));
    }
    moveInto($("summary"), out);
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
  IOC.clock.every(camPageMs, () => { camTurn++; renderCams(); });
  const camIcon = { down: "✕", alarm: "⚠", degraded: "!", maint: "⚙", commissioning: "…", unknown: "?", ok: "✓" };
  const camRank = { down: 0, alarm: 0, degraded: 1, unknown: 2, commissioning: 2, maint: 2, ok: 3 };
  // camWorse: the states from worst to best, for a recorder's row, which
  // shows the worst of the recorder and its cameras (never a green ✓ while
  // its cameras are down).
  const camWorse = ["down", "alarm", "degraded", "unknown", "commissioning", "maint", "ok"];
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
  // The recorder groups are kept between renders (cams.groups, by recorder
  // id): a device delta touches only its recorder's group (cams.dirty);
  // a snapshot, a removed device or a language change regroups them all
  // (cams.all). Each group keeps its element while what it shows is the
  // same, so a storm of 4,000 cameras redraws one group per delta.
  const cams = { groups: new Map(), all: true, dirty: new Set(), labels: new Map(), labelKey: "", size: null };
  function camTouched(d) {
    if (!d) { cams.all = true; return; }
    if (d.kind === "camera") {
      const g = cams.groups.get(d.parent || "");
      if (!g || !g.byID.has(d.id)) cams.all = true; // a new camera or a new recorder
      else cams.dirty.add(d.parent || "");
    } else if (d.kind === "nvr") {
      if (!cams.groups.has(d.id)) return; // a recorder with no camera shows nothing
      cams.dirty.add(d.id);
      cams.labelKey = ""; // its name may have changed
    }
  }
  function camRegroup() {
    const byNVR = new Map();
    for (const d of live.devices.values()) {
      if (d.kind !== "camera") continue;
      const k = d.parent || "";
      if (!byNVR.has(k)) byNVR.set(k, []);
      byNVR.get(k).push(d);
    }
    const old = cams.groups;
    cams.groups = new Map();
    for (const [id, list] of byNVR) {
      list.sort((a, b) => byID(a.id, b.id));
      const g = { id, cams: list, byID: new Map(list.map((d, i) => [d.id, i])), el: old.has(id) ? old.get(id).el : null, key: old.has(id) ? old.get(id).key : "" };
      camStats(g, true);
      cams.groups.set(id, g);
    }
    cams.all = false; cams.dirty.clear(); cams.labelKey = "";
  }
  // camStats recomputes one group's states, worst state and labels from
  // the picture (names only when they changed).
  function camStats(g, names) {
    for (let i = 0; i < g.cams.length; i++) {
      const d = live.devices.get(g.cams[i].id);
      if (d && d.name !== g.cams[i].name) names = true;
      if (d) g.cams[i] = d;
    }
    g.nvr = live.devices.get(g.id);
    g.states = g.cams.map(camState);
    g.nvrState = g.nvr ? camState(g.nvr) : "unknown";
    let worst = camRank[g.nvrState] === 0 ? 0 : 3, ok = 0, head = camWorse.indexOf(g.nvrState);
    for (const s of g.states) {
      if (camRank[s] < worst) worst = camRank[s];
      if (s === "ok") ok++;
      else head = Math.min(head, camWorse.indexOf(s));
    }
    g.worst = worst; g.ok = ok; g.problem = worst <= 1;
    g.headState = camWorse[head];
    if (names || !g.label) g.label = distinct(g.cams);
  }
  function camGroupsNow() {
    if (cams.all) camRegroup();
    for (const id of cams.dirty) { const g = cams.groups.get(id); if (g) camStats(g, false); }
    cams.dirty.clear();
    // Recorders are named by what tells them apart ("Đầu ghi Bệnh viện …"
    // -> "Bệnh viện …": the panel says they are recorders).
    const nvrs = [];
    for (const g of cams.groups.values()) if (g.nvr) nvrs.push(g.nvr);
    const key = nvrs.map((d) => d.id + "\u0001" + d.name).join("\u0002");
    if (key !== cams.labelKey) {
      cams.labelKey = key;
      cams.labels = nvrs.length > 1 ? distinct(nvrs) : new Map(nvrs.map((d) => [d.id, d.name]));
    }
    return [...cams.groups.values()].sort((a, b) => a.worst - b.worst || (b.cams.length - b.ok) - (a.cams.length - a.ok) || byID(a.id, b.id));
  }
  // camElement is a group's element, rebuilt only when what it shows changed.
  function camElement(g) {
    const name = (g.nvr && cams.labels.get(g.nvr.id)) || g.id || "—";
    const key = [IOC.getLang(), name, g.nvrState, g.headState, g.problem, g.ok, g.states.join(","), g.cams.map((d) => g.label.get(d.id)).join(",")].join("\u0001");
    if (!g.el || g.key !== key) { g.el = camGroup(g, name); g.key = key; }
    return g.el;
  }
  function camGroup(g, name) {
    const hs = g.headState || g.nvrState;
    const head = el("div", { class: "nvr-head" },
      el("span", { class: "state s-" + hs, text: camIcon[hs], dataset: { state: hs, nvrState: g.nvrState } }),
      el("span", { class: "name", text: name }),
      el("span", { class: "sub", text: t("cams_of").replace("{ok}", String(g.ok)).replace("{n}", String(g.cams.length)) }));
    return el("div", { class: "nvr" + (g.problem ? " problem" : ""), dataset: { nvr: g.id } }, head,
      el("div", { class: "tiles" }, ...g.cams.map((d, i) => {
        const st = g.states[i];
        return el("div", { class: "cam s-" + st, title: `${d.name} · ${t(stateWord[st])}`, dataset: { device: d.id, state: st } },
          el("span", { class: "icon", text: camIcon[st] }), el("span", { class: "num", text: g.label.get(d.id) }));
      })));
  }
  // camMetrics measures, once per panel size, how tall a recorder's group
  // is for n cameras (a head, then rows of tiles), so that paging 4,000
  // cameras costs arithmetic, not layout. The panel's size comes from a
  // ResizeObserver (cams.size), never from a read that forces layout.
  let camM = null;
  function camMetrics(box) {
    if (!cams.size) cams.size = { w: box.clientWidth, h: box.clientHeight };
    const key = `${cams.size.w}x${cams.size.h}`;
    if (camM && camM.key === key) return camM;
    const fake = (n) => {
      const list = Array.from({ length: n }, (_, i) => ({ id: "p" + i, name: "Camera " + String(i + 10) }));
      return { id: "probe", nvr: null, nvrState: "ok", worst: 3, ok: n, problem: false, cams: list, label: distinct(list), states: Array(n).fill("ok") };
    };
    const one = camGroup(fake(1), "—"), many = camGroup(fake(60), "—");
    box.replaceChildren(one, many);
    const tiles = [...many.querySelectorAll(".cam")];
    const cols = Math.max(1, tiles.filter((e) => e.offsetTop === tiles[0].offsetTop).length);
    const rows = Math.ceil(60 / cols);
    const h1 = one.offsetHeight, hN = many.offsetHeight;
    const gap = many.offsetTop - (one.offsetTop + one.offsetHeight);
    camM = { key, cols, h1, row: rows > 1 ? (hN - h1) / (rows - 1) : 0, gap, room: cams.size.h };
    box.replaceChildren();
    return camM;
  }
  function renderCams() {
    const groups = camGroupsNow();
    const box = $("cams");
    const m = camMetrics(box);
    const height = (g) => m.h1 + (Math.ceil(g.cams.length / m.cols) - 1) * m.row + m.gap;
    const problems = groups.filter((g) => g.problem), healthy = groups.filter((g) => !g.problem);
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
    moveInto(box, shown.map(camElement));
    setData(box, "page", String(page + 1));
    setData(box, "pages", String(Math.max(1, pages.length)));
    setData(box, "pinned", String(pinned.length));
    const parts = [];
    if (problems.length) parts.push(t("cam_problems").replace("{n}", IOC.num(problems.length)));
    if (pages.length > 1) parts.push(t("cam_page").replace("{k}", String(page + 1)).replace("{n}", String(pages.length)));
    setText($("cams-page"), parts.join(" · "));
  }
  // The camera panel follows its own size (the feed's height moves it):
  // its pages are recounted when it changes.
  new ResizeObserver((entries) => {
    const r = entries[entries.length - 1].contentRect;
    const size = { w: Math.round(r.width), h: Math.round(r.height) };
    if (cams.size && cams.size.w === size.w && cams.size.h === size.h) return;
    cams.size = size;
    if (live.counts) renderCams();
  }).observe($("cams"));

  // moveInto makes box's children the given elements, in order, moving
  // only what moved: what left is removed first, so that the rows after a
  // resolved alert stay where they are (a moved element is styled anew,
  // and its flashing restarts).
  function moveInto(box, els) {
    const want = new Set(els);
    for (let c = box.firstChild; c;) { const next = c.nextSibling; if (!want.has(c)) c.remove(); c = next; }
    let cur = box.firstChild;
    for (const e of els) {
      if (cur === e) { cur = cur.nextSibling; continue; }
      box.insertBefore(e, cur);
    }
    while (cur) { const next = cur.nextSibling; cur.remove(); cur = next; }
  }
  // setText and setData write only a change (a write of the same text
  // still costs the browser a style and layout pass).
  function setText(e, s) { if (e.textContent !== s) e.textContent = s; }
  function setData(e, k, v) { if (e.dataset[k] !== v) e.dataset[k] = v; }

  // renderFeed: root-cause alerts, most severe first, one two-line row
  // each (headline; age, district and place), in two columns filled top to
  // bottom. Only rows that fit whole are drawn; when some do not, the last
  // place says how many more are open ("+N nữa"). Rows are kept by alert
  // and rebuilt only when what they show changed (a storm of 2,000 alerts
  // changes one or two of them per update).
  const rowCache = new Map(); // alert id -> {key, li}
  let rowH = 0, feedRows = "", feedMore = null;
  // The window's size, kept by its resize event (reading innerWidth in a
  // render may force a layout).
  const screenSize = { w: innerWidth, h: innerHeight };
  addEventListener("resize", () => { screenSize.w = innerWidth; screenSize.h = innerHeight; renderSoon(); });
  function renderFeed() {
    // Alerts folded under a recorder's or district's alert are shown once,
    // under their parent's count. Only the rows that fit are put in order
    // (IOC.firstAlerts), not all 2,000 alerts of a storm.
    // A row's "+N" counts every alert folded under it, however deep (a
    // district's outage holds its recorders', which hold their cameras'),
    // as the severity tile's "thiết bị bị ảnh hưởng" does.
    const top = [], kids = new Map();
    for (const a of live.alerts.values()) {
      if (!a.parent || !live.alerts.has(a.parent)) { top.push(a); continue; }
      let root = live.alerts.get(a.parent);
      for (let depth = 0; depth < 8 && root.parent && live.alerts.has(root.parent); depth++) root = live.alerts.get(root.parent);
      kids.set(root.id, (kids.get(root.id) || 0) + 1);
    }
    setText($("alert-count"), IOC.num(top.length));
    const feed = $("feed");
    if (!top.length) { rowCache.clear(); feed.replaceChildren(el("li", { class: "empty", text: t("no_alerts") })); return; }
    // The panel grows with its alerts up to its max-height: how many rows
    // a column holds at most is measured once per screen size.
    if (!rowH || rowH.w !== screenSize.w || rowH.h !== screenSize.h) {
      const gap = parseFloat(getComputedStyle(feed).rowGap) || 0;
      const first = IOC.firstAlerts(top, 1)[0];
      const probe = row(first, kids.get(first.id) || 0);
      feed.replaceChildren(probe);
      feed.style.setProperty("--rows", "1");
      const panel = feed.parentElement;
      const chrome = panel.offsetHeight - feed.offsetHeight;
      const maxH = parseFloat(getComputedStyle(panel).maxHeight) || panel.offsetHeight;
      rowH = { px: probe.offsetHeight, w: screenSize.w, h: screenSize.h, max: Math.max(1, Math.floor((maxH - chrome + gap) / (probe.offsetHeight + gap))) };
      feedRows = "1";
    }
    const perCol = Math.min(rowH.max, Math.max(1, Math.ceil(top.length / 2)));
    if (feedRows !== String(perCol)) { feedRows = String(perCol); feed.style.setProperty("--rows", feedRows); }
    const room = perCol * 2;
    const n = top.length <= room ? top.length : room - 1;
    const shown = IOC.firstAlerts(top, n);
    const rows = shown.map((a) => row(a, kids.get(a.id) || 0));
    const keep = new Set(shown.map((a) => a.id));
    for (const id of rowCache.keys()) if (!keep.has(id)) rowCache.delete(id);
    if (n < top.length) {
      if (!feedMore) feedMore = el("li", { class: "more", id: "feed-more" });
      setData(feedMore, "more", String(top.length - n));
      setText(feedMore, t("more_alerts").replace("{n}", IOC.num(top.length - n)));
      rows.push(feedMore);
    }
    moveInto(feed, rows); // move only what moved
  }
  // row is the feed's row for a, reused while nothing it shows changed
  // (its age is part of that: the minute turns every 30 s check).
  function row(a, children) {
    const due = IOCDispatch.due(a);
    const key = [IOC.getLang(), a.severity, a.count, a.raised_at, a.flaps, a.suppressed, a.ack ? a.ack.by + a.ack.at : "", children,
      IOCDispatch.who(a), due ? due.text : "",
      IOC.message(a), IOC.ago(a.raised_at), live.deviceName(a.device), live.districtName(a.district)].join("\u0001");
    const c = rowCache.get(a.id);
    if (c && c.key === key) return c.li;
    const li = feedRow(a, children);
    rowCache.set(a.id, { key, li });
    return li;
  }

  // Severity by shape as well as colour.
  const sevIcon = { critical: "▲", major: "◆", minor: "●", info: "ℹ" };
  // headline splits an alert's message into what happened and where it
  // is: the place's name (the device's, or the district's for a district
  // alert) and the word that joins it ("tại", "at", "in") are taken out of
  // the message, and the row shows what first, then the place, so that
  // truncation eats the place, never the what ("Phá hoại, che ống kính ·
  // Camera 08 Khu cách ly…"). A message that does not name its place is
  // shown whole.
  function headline(a) {
    const msg = IOC.message(a), place = live.deviceName(a.device), lang = IOC.getLang();
    let what = "";
    const i = place ? msg.indexOf(place) : -1;
    if (i === 0) {
      what = msg.slice(place.length).replace(/^[\s:,–-]+/, "");
      if (lang === "en") what = what.replace(/^is /, ""); // "… is offline" -> "Offline"
    } else if (i > 0) {
      what = (msg.slice(0, i).replace(/\s+(tại|at|in)\s*$/, "") + msg.slice(i + place.length)).trim();
    }
    // A district alert's place is its district, on the line under it.
    const at = a.device.startsWith("district:") ? "" : place;
    if (!what) return { what: msg, place: i >= 0 ? "" : at };
    return { what: what.charAt(0).toLocaleUpperCase(lang) + what.slice(1), place: at };
  }
  function feedRow(a, children) {
    const place = live.deviceName(a.device), district = live.districtName(a.district);
    const head = headline(a);
    const where = place === district ? [district] : [district, place];
    // The place is in the headline; the line under it says how long ago
    // and in which district.
    const meta = [el("span", { class: "age", text: IOC.ago(a.raised_at) }), el("span", { class: "where", text: district })];
    const notes = [];
    if (children) notes.push(`+${children} ${t("folded")}`);
    if (a.ack) notes.push(`${t("acked_by")} ${IOC.person(a.ack.by)} ${IOC.time(a.ack.at)}`);
    if (a.dispatch) notes.push(IOCDispatch.who(a)); // who has it, since when
    const due = IOCDispatch.due(a);
    if (due) notes.push(due.text);
    if (a.suppressed) notes.push(t("suppressed"));
    if (a.flaps) notes.push(t("flapping").replace("{n}", String(a.flaps + 1)));
    if (notes.length) meta.push(el("span", { class: "notes", text: notes.join(" · ") }));
    const cls = ["alert", "sev-" + a.severity, a.ack ? "acked" : "", a.suppressed ? "suppressed" : "",
      a.severity === CONTRACT.severity.critical && !a.ack && !a.suppressed ? "flash" : ""].join(" ");
    const li = el("li", { class: cls, dataset: { alert: a.id, severity: a.severity }, title: `${t("raised")} ${IOC.dateTime(a.raised_at)}` },
      el("div", { class: "head" }, el("span", { class: "sev", title: t(a.severity), text: sevIcon[a.severity] }), el("span", { class: "msg", text: head.what }),
        head.place ? el("span", { class: "place", text: "· " + head.place }) : null),
      el("div", { class: "meta" }, ...meta));
    const actions = el("div", { class: "dispatch-actions" });
    if (!a.ack && IOC.can("technician")) {
      actions.append(el("button", { type: "button", class: "ack", text: t("ack"), onclick: (ev) => ack(a, ev.target) }));
    }
    const title = `${IOC.message(a)} · ${where.join(" · ")}`;
    if (IOC.can("operator") && !a.parent) {
      actions.append(el("button", { type: "button", class: "assign", text: t("assign"),
        onclick: () => IOCDispatch.openAssign(a, live.devices.get(a.device), title, (e) => notice(t("failed") + ": " + e.message)) }));
    }
    actions.append(el("button", { type: "button", class: "timeline", text: t("timeline"), onclick: () => IOCDispatch.openTimeline(a.id, title) }));
    li.append(actions);
    if (due && due.late) li.classList.add("overdue");
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

  // Recently resolved: the last root-cause alerts resolved in the last
  // 4 hours (at most 10), most recent first, in the view's districts: the
  // alert, how long ago, by whom ("Tự hết" when its condition cleared)
  // and the note. The server keeps the list (live.resolved).
  const resolvedWindowMs = 4 * 3600 * 1000, resolvedMax = 10;
  let resolvedKey = "";
  function renderResolved() {
    const now = IOC.clock.now();
    const list = live.resolved.filter((r) => inView(r.alert.district) && now - Date.parse(r.at) <= resolvedWindowMs).slice(0, resolvedMax);
    const key = [IOC.getLang(), ...list.map((r) => r.alert.id + r.at + IOC.ago(r.at, now))].join("\u0001");
    if (key === resolvedKey) return;
    resolvedKey = key;
    const who = (by) => by === "auto" ? t("resolved_auto") : by === "config" ? t("resolved_config") : IOC.person(by);
    $("resolved").replaceChildren(...(list.length ? list.map((r) => el("li", { dataset: { alert: r.alert.id, by: r.by } },
      el("div", { class: "what" }, el("span", { class: "sev sev-" + r.alert.severity, title: t(r.alert.severity), text: sevIcon[r.alert.severity] }),
        el("span", { class: "msg", text: IOC.message(r.alert) })),
      el("div", { class: "who" }, el("span", { class: "age", text: IOC.ago(r.at, now) + " · " }), el("span", { class: "by", text: who(r.by) }),
        r.note ? el("span", { class: "note", text: ": " + r.note }) : null)))
      : [el("li", { class: "empty", text: t("no_resolved") })]));
  }

  // Readings panels: the worst stations of PM2.5 and water level against
  // the rules' alarm levels (GET /api/v1/province levels): ranked by the
  // reading over the lowest level that raises an alert there, and where
  // no threshold applies (a rise rule only) by the reading itself. Two a
  // field, in the view's districts, each with its last two hours drawn
  // with the levels (uPlot, chart.js); the latest readings come from
  // GET /api/v1/readings, again every minute on IOC.clock.
  const readingFields = ["pm25", "water_level_cm"], readingsPer = 2;
  let readings = null, readingsKey = "";
  async function loadReadings() {
    try {
      const q = new URLSearchParams(readingFields.map((f) => ["field", f]));
      const list = (await IOC.api("GET", "/api/v1/readings?" + q)).readings;
      const worst = [];
      for (const f of readingFields) {
        const rows = list.filter((r) => r.field === f && live.devices.has(r.device)).map((r) => {
          const d = live.devices.get(r.device);
          const levels = IOCChart.levelsFor(prov.levels, d, { measurement: "telemetry", field: f });
          const raise = levels.filter((l) => l.kind === "threshold" && typeof l.value === "number" && (l.op === ">" || l.op === ">=")).map((l) => l.value);
          const level = raise.length ? Math.min(...raise) : null;
          return { r, d, levels, level, rank: level ? r.value / level : r.value / 1e9 };
        });
        rows.sort((a, b) => b.rank - a.rank || b.r.value - a.r.value || byID(a.d.id, b.d.id));
        worst.push(...rows.slice(0, readingsPer));
      }
      const to = new Date(IOC.clock.now()), from = new Date(to.getTime() - 2 * 3600 * 1000);
      await Promise.all(worst.map(async (w) => {
        const q = new URLSearchParams({ measurement: "telemetry", from: from.toISOString(), to: to.toISOString() });
        const h = await IOC.api("GET", `/api/v1/devices/${encodeURIComponent(w.d.id)}/history?${q}`).catch(() => null);
        w.series = h && h.series.find((s) => s.field === w.r.field);
      }));
      readings = { worst, from, to, stamp: to.getTime() };
      renderReadings();
    } catch (e) { /* keep what is shown; the next minute tries again */ }
  }
  IOC.clock.every(60000, loadReadings); // and after each snapshot (a view's devices)
  function renderReadings() {
    if (!readings) return;
    const key = IOC.getLang() + readings.stamp;
    if (key === readingsKey) return;
    readingsKey = key;
    const box = $("readings");
    if (!readings.worst.length) { box.replaceChildren(el("li", { class: "empty", text: t("no_readings") })); return; }
    const rem = parseFloat(getComputedStyle(document.documentElement).fontSize) || 16;
    const width = Math.round(box.clientWidth * 0.3), height = Math.round(rem * 2.2);
    box.replaceChildren(...readings.worst.map((w) => {
      const over = w.level !== null && w.r.value > w.level;
      const spark = w.series && w.series.samples.length
        ? IOCChart.draw(w.series, { from: readings.from, to: readings.to, width, height, spark: true, levels: w.levels })
        : el("div");
      return el("li", { class: over ? "over" : "", dataset: { device: w.d.id, field: w.r.field, value: String(w.r.value), level: w.level === null ? "" : String(w.level) } },
        // "182,4 / 150 µg/m³": the reading over its level, read at 5 m;
        // "ngưỡng 150 · Bụi mịn PM2.5 · Trạm …" from the desks.
        el("div", { class: "value" }, el("span", { class: "v", text: IOC.num(w.r.value) }),
          w.level !== null ? el("span", { class: "level", text: " / " + IOC.num(w.level) }) : null,
          el("span", { class: "unit", text: " " + t("unit_" + w.r.field) })),
        spark,
        el("div", { class: "name", text: [w.level !== null ? t("alarm_level").replace("{n}", IOC.num(w.level)) : null,
          IOC.field(w.r.field).replace(/ \(.*\)$/, ""), w.d.name].filter(Boolean).join(" · ") }));
    }));
  }

  // Uptime today per district: the availability report's online share
  // (time not offline, maintenance and unknown time left out) from
  // midnight in Vietnam until now, GET /api/v1/availability?group=district,
  // the numbers the report page shows. Fetched again a minute after the
  // last time, and at the next half-minute turn when a district's count of
  // offline devices changed: an outage shows in the column within 30 s,
  // not minutes later beside "0/40" cameras.
  // #districts[data-uptime-from|to] say which range is shown.
  let uptime = null; // district -> online_pct
  let uptimeAt = -Infinity, uptimeOffline = null;
  function offlineByDistrict() {
    const c = live.counts;
    if (!c) return "";
    return Object.keys(c.devices).sort().map((id) =>
      id + ":" + Object.values(c.devices[id]).reduce((n, k) => n + (k.offline || 0), 0)).join(",");
  }
  async function loadUptime() {
    uptimeAt = IOC.clock.now();
    uptimeOffline = offlineByDistrict();
    const now = new Date(IOC.clock.now());
    const day = new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Ho_Chi_Minh", year: "numeric", month: "2-digit", day: "2-digit" }).format(now);
    const from = day + "T00:00:00+07:00", to = now.toISOString();
    try {
      const rep = await IOC.api("GET", "/api/v1/availability?" + new URLSearchParams({ group: "district", from, to }));
      uptime = new Map(rep.rows.map((r) => [r.key, r.online_pct]));
      setData($("districts"), "uptimeFrom", from);
      setData($("districts"), "uptimeTo", to);
      renderDistricts();
    } catch (e) { /* keep what is shown; the next turn tries again */ }
  }
  loadUptime();
  IOC.clock.every(30000, () => {
    if (offlineByDistrict() !== uptimeOffline || IOC.clock.now() - uptimeAt >= 60000) loadUptime();
  });

  let districtsKey = "";
  // renderDistricts rebuilds the table only when what it shows changed
  // (the counts object is replaced on every change, the uptime when it is
  // fetched again): a storm's alert deltas leave it alone.
  let districtsOf = null;
  function renderDistricts() {
    const c = live.counts;
    if (!c) return;
    const of = [c, uptime, IOC.getLang(), view().join(","), live.districts.size];
    if (districtsOf && of.every((x, i) => x === districtsOf[i])) return;
    districtsOf = of;
    const head = el("tr", {}, el("th", { text: t("district") }), ...kinds.filter((k) => k !== "gateway").map((k) => el("th", { text: t(k) })), el("th", { text: t("offline") }),
      uptime ? el("th", { class: "uptime", text: t("uptime_today") }) : null);
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
      return el("tr", { dataset: { district: id } }, el("td", { text: live.districtName(id) }), ...cells, el("td", { class: off ? "down" : "ok", text: String(off) }),
        uptime ? el("td", { class: "uptime", text: IOC.pct(uptime.get(id)) }) : null);
    });
    const key = [head, ...rows].map((x) => x.outerHTML).join("");
    if (key !== districtsKey) { districtsKey = key; $("districts").replaceChildren(head, ...rows); }
  }
})();
