// The technician page offline: a service worker (/tech/sw.js) keeps the
// page itself, and the last list of open alerts is saved here (with the
// names it needs and when it was current), so that without signal the
// page still shows it and says how old it is.
"use strict";
const IOCOffline = (() => {
  const KEY = "ioc.tech.last";
  const MAX_ALERTS = 500; // bound what is kept on the phone

  function register() {
    if (!("serviceWorker" in navigator)) return;
    navigator.serviceWorker.register("/tech/sw.js", { scope: "/tech/" }).catch((e) => console.info("service worker", e.message));
  }

  // save keeps live's alerts and what naming them needs, as of now.
  function save(live) {
    const alerts = [...live.alerts.values()].slice(0, MAX_ALERTS);
    const devices = {};
    for (const a of alerts) {
      for (const id of [a.device, a.parent && live.alerts.get(a.parent) ? live.alerts.get(a.parent).device : null]) {
        const d = id && live.devices.get(id);
        if (d) devices[id] = d;
      }
    }
    try {
      localStorage.setItem(KEY, JSON.stringify({ at: new Date().toISOString(), alerts, devices, districts: [...live.districts] }));
    } catch (e) { /* storage full: the previous list stays */ }
  }

  // restore fills live with the saved list and returns when it was current
  // (null when nothing is saved).
  function restore(live) {
    let s;
    try { s = JSON.parse(localStorage.getItem(KEY) || "null"); } catch (e) { s = null; }
    if (!s || !Array.isArray(s.alerts)) return null;
    for (const a of s.alerts) live.alerts.set(a.id, a);
    for (const [id, d] of Object.entries(s.devices || {})) live.devices.set(id, d);
    for (const [id, name] of s.districts || []) live.districts.set(id, name);
    return s.at;
  }

  function savedAt() {
    try { const s = JSON.parse(localStorage.getItem(KEY) || "null"); return s && s.at; } catch (e) { return null; }
  }

  function forget() { localStorage.removeItem(KEY); }

  return { register, save, restore, savedAt, forget };
})();
