// Shared by the wall and technician pages: language, time in
// Asia/Ho_Chi_Minh, the JSON API with the session's CSRF token, and the
// live stream (websocket with reconnect, resume and resync).
"use strict";

const IOC = (() => {
  const TZ = "Asia/Ho_Chi_Minh";
  const dict = {
    vi: {
      title_wall: "Trung tâm Điều hành IOC", title_tech: "IOC — Kỹ thuật hiện trường",
      online: "Trực tuyến", offline: "Mất kết nối", unknown: "Chưa rõ", degraded: "Suy giảm", maintenance: "Bảo trì",
      camera: "Camera", nvr: "Đầu ghi", sensor: "Cảm biến", gateway: "Gateway", district: "Huyện/TP",
      critical: "Nghiêm trọng", major: "Cao", minor: "Trung bình", info: "Thông tin",
      alerts: "Cảnh báo", active_alerts: "Cảnh báo đang mở", no_alerts: "Không có cảnh báo",
      ack: "Xác nhận", acked_by: "Đã xác nhận bởi", resolve: "Đã xử lý", note: "Ghi chú",
      resolve_note: "Đã làm gì? (bắt buộc)", send: "Gửi", cancel: "Huỷ",
      disconnected: "MẤT KẾT NỐI VỚI MÁY CHỦ — đang kết nối lại…", syncing: "Đang đồng bộ…",
      stale: "DỮ LIỆU CŨ TỪ {time} — máy chủ mất kết nối với hệ thống thu thập, đang kết nối lại…",
      stale_short: "Dữ liệu cũ từ {time}",
      lagging: "Kết nối chậm — đã tải lại toàn bộ dữ liệu", sound_on: "Âm thanh: bật", sound_off: "Âm thanh: tắt",
      map: "Bản đồ thiết bị", cameras: "Tình trạng camera theo đầu ghi", districts: "Theo huyện/thành phố",
      total: "Tổng", logout: "Đăng xuất", login: "Đăng nhập", username: "Tên đăng nhập", password: "Mật khẩu",
      login_failed: "Sai tên đăng nhập hoặc mật khẩu", nearest: "Gần tôi nhất", all_districts: "Tất cả huyện",
      last24h: "24 giờ qua", history: "Lịch sử cảnh báo", back: "Quay lại", no_data: "Không có dữ liệu",
      status: "Trạng thái", raised: "Phát sinh", device: "Thiết bị", folded: "gộp dưới", suppressed: "đang bảo trì",
      done: "Đã gửi", failed: "Không thành công", lang: "English", parent: "Thuộc", km: "km",
      transition_raised: "phát sinh", transition_acked: "xác nhận", transition_resolved: "đã xử lý",
      transition_updated: "cập nhật", transition_reopened: "mở lại", transition_renotified: "nhắc lại",
      transition_folded: "gộp", transition_surfaced: "tách ra", transition_suppressed: "bảo trì",
      transition_unsuppressed: "hết bảo trì",
    },
    en: {
      title_wall: "IOC Operations Centre", title_tech: "IOC — Field technician",
      online: "Online", offline: "Offline", unknown: "Unknown", degraded: "Degraded", maintenance: "Maintenance",
      camera: "Cameras", nvr: "Recorders", sensor: "Sensors", gateway: "Gateways", district: "District",
      critical: "Critical", major: "Major", minor: "Minor", info: "Info",
      alerts: "Alerts", active_alerts: "Open alerts", no_alerts: "No alerts",
      ack: "Acknowledge", acked_by: "Acknowledged by", resolve: "Resolve", note: "Note",
      resolve_note: "What was done? (required)", send: "Send", cancel: "Cancel",
      disconnected: "CONNECTION TO THE SERVER LOST — reconnecting…", syncing: "Syncing…",
      stale: "STALE DATA SINCE {time} — the server lost the data feed; reconnecting…",
      stale_short: "Stale data since {time}",
      lagging: "Slow connection — everything was reloaded", sound_on: "Sound: on", sound_off: "Sound: off",
      map: "Device map", cameras: "Camera health by recorder", districts: "By district",
      total: "Total", logout: "Log out", login: "Log in", username: "Username", password: "Password",
      login_failed: "Wrong username or password", nearest: "Nearest to me", all_districts: "All districts",
      last24h: "Last 24 hours", history: "Alert history", back: "Back", no_data: "No data",
      status: "Status", raised: "Raised", device: "Device", folded: "under", suppressed: "in maintenance",
      done: "Sent", failed: "Failed", lang: "Tiếng Việt", parent: "Under", km: "km",
      transition_raised: "raised", transition_acked: "acknowledged", transition_resolved: "resolved",
      transition_updated: "updated", transition_reopened: "reopened", transition_renotified: "renotified",
      transition_folded: "folded", transition_surfaced: "surfaced", transition_suppressed: "suppressed",
      transition_unsuppressed: "unsuppressed",
    },
  };
  let lang = localStorage.getItem("ioc.lang") || "vi";
  if (!dict[lang]) lang = "vi";
  document.documentElement.lang = lang;

  function t(key) { return dict[lang][key] || key; }
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
  const timeFmt = () => new Intl.DateTimeFormat(lang === "vi" ? "vi-VN" : "en-GB",
    { timeZone: TZ, hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
  const dateTimeFmt = () => new Intl.DateTimeFormat(lang === "vi" ? "vi-VN" : "en-GB",
    { timeZone: TZ, day: "2-digit", month: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false });
  function time(s) { return s ? timeFmt().format(new Date(s)) : ""; }
  function dateTime(s) { return s ? dateTimeFmt().format(new Date(s)) : ""; }
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
  async function api(method, path, body) {
    const opts = { method, headers: {}, credentials: "same-origin" };
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    if (method !== "GET" && session) opts.headers["X-CSRF-Token"] = session.csrf;
    const r = await fetch(path, opts);
    if (r.status === 401 && path !== "/api/v1/login") {
      location.href = "/login.html?next=" + encodeURIComponent(location.pathname + location.hash);
      throw new Error("not logged in");
    }
    const data = r.status === 204 ? null : await r.json().catch(() => null);
    if (!r.ok) throw new Error((data && data.error) || r.statusText);
    return data;
  }
  async function loadSession() {
    session = await api("GET", "/api/v1/session");
    return session;
  }
  function role() { return session ? session.role : "viewer"; }
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
      }
      if (this.h.onChange) this.h.onChange(m.type, m);
    }
    districtName(id) { return this.districts.get(id) || id; }
  }

  // sortAlerts: most severe first, then unacknowledged, then newest.
  const sevRank = { critical: 0, major: 1, minor: 2, info: 3 };
  function sortAlerts(list) {
    return list.sort((a, b) => (sevRank[a.severity] - sevRank[b.severity]) ||
      ((a.ack ? 1 : 0) - (b.ack ? 1 : 0)) || (new Date(b.raised_at) - new Date(a.raised_at)));
  }

  // throttle runs f at most once per animation frame.
  function throttle(f) {
    let queued = false;
    return () => {
      if (queued) return;
      queued = true;
      requestAnimationFrame(() => { queued = false; f(); });
    };
  }

  return { t, getLang, setLang, translate, time, dateTime, message, el, api, loadSession, role, can, logout, Live, sortAlerts, throttle, session: () => session };
})();
