// Shared by the wall and technician pages: language, time in
// Asia/Ho_Chi_Minh, the JSON API with the session's CSRF token, and the
// live stream (websocket with reconnect, resume and resync).
"use strict";

const IOC = (() => {
  const TZ = "Asia/Ho_Chi_Minh";
  const dict = IOCDict; // i18n.js
  let lang = localStorage.getItem("ioc.lang") || "vi";
  if (!dict[lang]) lang = "vi";
  document.documentElement.lang = lang;

  // t(key) is key's text in the page's language; a key missing there
  // falls back to Vietnamese, never to a raw key on screen if avoidable.
  function t(key) { return dict[lang][key] || dict.vi[key] || key; }
  // has reports whether key has a text (so callers can fall back to a name).
  function has(key) { return key in dict[lang]; }
  function getLang() { return lang; }
  function setLang(l) {
    lang = dict[l] ? l : "vi";
    localStorage.setItem("ioc.lang", lang);
    document.documentElement.lang = lang;
    translate(document);
  }
  function translate(root) {
    root.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
    root.querySelectorAll("[data-i18n-placeholder]").forEach((el) => { el.placeholder = t(el.dataset.i18nPlaceholder); });
  }
  // Formatters are made once per language and kind: making an Intl
  // formatter costs a tenth of a millisecond or more, and the wall formats
  // dozens of numbers a frame.
  const fmts = new Map();
  function fmt(kind, make) {
    const key = lang + "\u0001" + kind;
    if (!fmts.has(key)) fmts.set(key, make(lang === "vi" ? "vi-VN" : "en-GB"));
    return fmts.get(key);
  }
  const timeFmt = () => fmt("time", (loc) => new Intl.DateTimeFormat(loc,
    { timeZone: TZ, hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false }));
  const dateTimeFmt = () => fmt("datetime", (loc) => new Intl.DateTimeFormat(loc,
    { timeZone: TZ, day: "2-digit", month: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false }));
  function time(s) { return s ? timeFmt().format(new Date(s)) : ""; }
  // dateTime: "21:47 02/12" in Asia/Ho_Chi_Minh (Intl's vi-VN writes the
  // date "02-12"; Vietnamese readers expect a slash).
  function dateTime(s) {
    if (!s) return "";
    const p = {};
    for (const x of dateTimeFmt().formatToParts(new Date(s))) p[x.type] = x.value;
    return `${p.hour}:${p.minute} ${p.day}/${p.month}`;
  }
  // num writes a number the page's way: "23,8" and "12.345" in Vietnamese.
  function num(v, digits) {
    if (typeof v !== "number") return String(v);
    const d = digits === undefined ? 1 : digits;
    return fmt("num" + d, (loc) => new Intl.NumberFormat(loc, { maximumFractionDigits: d })).format(v);
  }
  // pct writes a share in percent as the availability report does,
  // rounded down to 2 decimals: 99.5213 is "99,52 %" (vi), "99.52 %" (en);
  // none is "—".
  function pct(v) {
    if (v === null || v === undefined) return "—";
    return fmt("pct", (loc) => new Intl.NumberFormat(loc, { minimumFractionDigits: 2, maximumFractionDigits: 2 })).format(Math.floor(v * 100) / 100) + " %";
  }
  // ago: how long since s, the way an operator says it: "vừa xong",
  // "12 phút trước", "3 giờ trước", "2 ngày trước" (now defaults to the
  // page's clock).
  function ago(s, now) {
    const m = Math.floor(((now ? new Date(now) : new Date()) - new Date(s)) / 60000);
    if (m < 1) return t("ago_now");
    if (m < 60) return t("ago_min").replace("{n}", String(m));
    if (m < 24 * 60) return t("ago_hour").replace("{n}", String(Math.floor(m / 60)));
    return t("ago_day").replace("{n}", String(Math.floor(m / 1440)));
  }
  // people: display names by username (GET /api/v1/province).
  let people = {};
  function setPeople(p) { people = p || {}; }
  function person(username) { return people[username] || username; }
  // field names a series ("telemetry.pm25" -> "Bụi mịn PM2.5 (µg/m³)").
  function field(name) { return has("field_" + name) ? t("field_" + name) : name; }
  function message(a) { return (a.message && (a.message[lang] || a.message.vi || a.message.en)) || a.rule; }

  // el builds an element: el("div", {class: "x", text: "y"}, child...).
  function el(tag, attrs, ...children) {
    const ns = ["svg", "circle", "path", "polyline", "g", "text", "line", "rect", "title"].includes(tag) ? "http://www.w3.org/2000/svg" : null;
    const e = ns ? document.createElementNS(ns, tag) : document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "text") e.textContent = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else if (k === "dataset") Object.assign(e.dataset, v);
      else e.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children) if (c !== null && c !== undefined) e.append(c);
    return e;
  }

  let session = null;
  // errBound fills {n} in the text of an API error about a bound.
  const errBound = { note_too_long: CONTRACT.maxNoteBytes, photo_too_large: CONTRACT.maxPhotoMiB };
  // api calls the API; body is sent as JSON, or as it is if it is a
  // FormData (a form with a file).
  async function api(method, path, body) {
    const opts = { method, headers: {}, credentials: "same-origin" };
    if (body instanceof FormData) {
      opts.body = body;
    } else if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    if (method !== "GET" && session) opts.headers["X-CSRF-Token"] = session.csrf;
    let r;
    try {
      r = await fetch(path, opts);
    } catch (e) {
      throw Object.assign(new Error(t("err_network")), { code: "network" });
    }
    if (r.status === 401 && path !== "/api/v1/login" && path !== "/api/v1/kiosk/session") {
      location.href = "/login.html?next=" + encodeURIComponent(location.pathname + location.hash);
      throw new Error("not logged in");
    }
    const data = r.status === 204 ? null : await r.json().catch(() => null);
    if (!r.ok) {
      // The API's code names the error in the user's language; its English
      // text stays for the console.
      const code = (data && data.code) || "internal";
      if (data && data.error) console.info("api", method, path, r.status, data.error);
      const text = has("err_" + code) ? t("err_" + code).replace("{n}", String(errBound[code])) : t("failed");
      throw Object.assign(new Error(text), { code, status: r.status });
    }
    return data;
  }
  // An enrolled wall is opened with its kiosk link (/wall/#kiosk=<code>):
  // the code is exchanged for the wall's kiosk cookie and taken out of the
  // address bar; the cookie then keeps the wall in without anyone logging
  // in (GET /api/v1/session renews it).
  async function enrolKiosk() {
    const m = /(?:^#|&)kiosk=([^&]+)/.exec(location.hash);
    if (!m) return;
    history.replaceState(null, "", location.pathname + location.search);
    await api("POST", "/api/v1/kiosk/session", { credential: decodeURIComponent(m[1]) }).catch((e) => console.info("kiosk", e.code));
  }
  async function loadSession() {
    await enrolKiosk();
    session = await api("GET", "/api/v1/session");
    return session;
  }
  function role() { return session ? session.role : "viewer"; }
  // can: whether the session may do what needs role need (an enrolled
  // wall's kiosk session may do nothing but view).
  function can(need) {
    const rank = { viewer: 1, technician: 2, operator: 3, admin: 4 };
    return (rank[role()] || 0) >= rank[need];
  }
  async function logout() {
    await api("POST", "/api/v1/logout").catch(() => {});
    location.href = "/login.html";
  }

  // Live keeps the picture: alerts, devices, counts, maintenance. It calls
  // onChange(kind, item) for each delta and onSnapshot() after each
  // snapshot; onStatus(connected) when the connection comes and goes.
  class Live {
    constructor(filter, handlers) {
      this.filter = filter || {};
      this.h = handlers;
      this.alerts = new Map();
      this.devices = new Map();
      this.maintenance = new Map();
      this.counts = null;
      this.resolved = [];
      this.districts = new Map();
      this.province = "";
      this.epoch = "";
      this.seq = 0;
      this.backoff = 500;
      this.connected = false;
      this.live = true; // the server's picture follows the broker
      this.staleSince = null;
      this.connect();
    }
    url() {
      const p = new URLSearchParams();
      if (this.filter.districts && this.filter.districts.length) p.set("district", this.filter.districts.join(","));
      if (this.filter.severities && this.filter.severities.length) p.set("severity", this.filter.severities.join(","));
      if (this.filter.kinds && this.filter.kinds.length) p.set("kind", this.filter.kinds.join(","));
      if (this.epoch) { p.set("epoch", this.epoch); p.set("since", String(this.seq)); }
      return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/api/v1/stream?" + p;
    }
    connect() {
      const ws = new WebSocket(this.url());
      this.ws = ws;
      ws.onopen = () => { this.backoff = 500; };
      ws.onmessage = (ev) => this.handle(JSON.parse(ev.data));
      ws.onclose = () => {
        if (this.ws !== ws) return;
        this.setConnected(false);
        const wait = this.backoff + Math.random() * this.backoff;
        this.backoff = Math.min(this.backoff * 2, 15000);
        // A closed connection may be an ended session: check before retrying.
        setTimeout(() => { api("GET", "/api/v1/session").then(() => this.connect(), () => setTimeout(() => this.connect(), wait)); }, wait);
      };
    }
    setConnected(c) {
      if (this.connected === c) return;
      this.connected = c;
      if (this.h.onStatus) this.h.onStatus(c);
    }
    // setSync records whether the server's picture follows the broker;
    // onSync(live, since) lets the page say the data is stale.
    setSync(live, since) {
      live = live !== false;
      if (this.live === live && this.staleSince === (since || null)) return;
      this.live = live; this.staleSince = since || null;
      if (this.h.onSync) this.h.onSync(this.live, this.staleSince);
    }
    setFilter(f) {
      this.filter = f;
      if (this.ws && this.ws.readyState === WebSocket.OPEN) {
        this.ws.send(JSON.stringify(Object.assign({ type: "filter" }, f)));
      }
    }
    handle(m) {
      if (m.type === "snapshot") {
        this.alerts.clear(); this.devices.clear(); this.maintenance.clear();
        for (const a of m.alerts) this.alerts.set(a.id, a);
        for (const d of m.devices) this.devices.set(d.id, d);
        for (const w of m.maintenance) this.maintenance.set(w.target, w);
        this.counts = m.counts;
        this.resolved = m.resolved || [];
        if (m.districts) for (const d of m.districts) this.districts.set(d.id, d.name);
        if (m.province) this.province = m.province;
        this.epoch = m.epoch; this.seq = m.seq;
        this.setConnected(true);
        this.setSync(m.live, m.stale_since);
        if (this.h.onSnapshot) this.h.onSnapshot();
        return;
      }
      if (m.type === "resumed") { this.setConnected(true); return; }
      if (m.type === "lagging") { if (this.h.onLagging) this.h.onLagging(m.reason); return; }
      if (!m.seq) return;
      this.seq = m.seq;
      switch (m.type) {
        case "alert": {
          const old = this.alerts.get(m.alert.id);
          this.alerts.set(m.alert.id, m.alert);
          if (this.h.onAlert) this.h.onAlert(m.alert, old);
          break;
        }
        case "alert_cleared": this.alerts.delete(m.alert.id); break;
        case "device": this.devices.set(m.device.id, m.device); break;
        case "device_removed": this.devices.delete(m.device.id); break;
        case "maintenance": this.maintenance.set(m.maintenance.target, m.maintenance); break;
        case "maintenance_ended": this.maintenance.delete(m.maintenance.target); break;
        case "counts": this.counts = m.counts; break;
        case "sync": this.setSync(m.sync.live, m.sync.stale_since); break;
        // the last root-cause alerts resolved, most recent first (the
        // server keeps 50)
        case "resolved": this.resolved.unshift(m.resolved); this.resolved.length = Math.min(this.resolved.length, 50); break;
      }
      if (this.h.onChange) this.h.onChange(m.type, m);
    }
    districtName(id) { return this.districts.get(id) || id; }
    // deviceName: a device's name, or its district's for a district alert's
    // pseudo-device ("district:phu-luong" -> "Huyện Phú Lương").
    deviceName(id) {
      const d = this.devices.get(id);
      if (d) return d.name;
      if (id && id.startsWith("district:")) return this.districtName(id.slice("district:".length));
      return id;
    }
  }

  // sortAlerts: most severe first, then unacknowledged, then newest.
  const sevRank = CONTRACT.severityRank; // contract.js
  // Each alert's time is parsed once (not in the comparator: 2,000 alerts
  // would parse 40,000 dates), and kept while the alert object lives.
  const raisedAt = new WeakMap();
  function at(a) {
    let v = raisedAt.get(a);
    if (v === undefined) { v = Date.parse(a.raised_at); raisedAt.set(a, v); }
    return v;
  }
  function alertOrder(a, b) {
    return (sevRank[a.severity] - sevRank[b.severity]) || ((a.ack ? 1 : 0) - (b.ack ? 1 : 0)) || (at(b) - at(a));
  }
  function sortAlerts(list) { return list.sort(alertOrder); }
  // firstAlerts: the first k of list in sortAlerts' order (ties kept in
  // list order, as the stable sort does), without sorting the rest: a
  // wall shows 15 rows of a storm of 2,000.
  function firstAlerts(list, k) {
    const out = [];
    if (k <= 0) return out;
    for (const a of list) {
      if (out.length === k && alertOrder(a, out[k - 1]) >= 0) continue;
      let i = out.length === k ? k - 1 : out.length;
      while (i > 0 && alertOrder(a, out[i - 1]) < 0) { out[i] = out[i - 1]; i--; }
      out[i] = a;
    }
    return out;
  }

  // clock drives what the pages do on a schedule (the wall's camera pages
  // and view rotation): the browser's timers, or a clock a test installs
  // as window.iocTestClock before the page loads ({now(), every(ms, f)}).
  const clock = window.iocTestClock || { now: () => Date.now(), every: (ms, f) => setInterval(f, ms) };

  // throttle runs f at most once per animation frame.
  function throttle(f) {
    let queued = false;
    return () => {
      if (queued) return;
      queued = true;
      requestAnimationFrame(() => { queued = false; f(); });
    };
  }

  return { t, has, num, pct, person, setPeople, field, getLang, setLang, translate, time, dateTime, ago, message, el, api, loadSession, role, can, logout, Live, sortAlerts, firstAlerts, throttle, clock, session: () => session };
})();
