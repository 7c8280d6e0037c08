// The integrator's page (/integrator/): its own devices with their state,
// last stored payload, records stored and refusals in the last hour and
// day; a payload check with ingest's answer; its recent _errors reports.
// Text from the server (a payload, ingest's explanation) is shown as it
// is, marked translate="no"; its reason is named in the page's language.
"use strict";
(() => {
  const { t, el, api, num, dateTime, ago } = IOC;
  const $ = (id) => document.getElementById(id);
  let devices = new Map(); // id -> device
  let since = null;

  const raw = (text) => el("pre", { class: "raw", translate: "no", text });
  const reason = (code) => (IOC.has("reason_" + code) ? t("reason_" + code) : t("reason_other"));
  const cell = (label, attrs, ...children) => el("td", Object.assign({ dataset: { label: t(label) } }, attrs || {}), ...children);
  const deviceName = (id) => (devices.has(id) ? devices.get(id).name : null);

  function status(d) {
    const words = [t(d.status)];
    if (d.status === "online" && d.health === "degraded") words.push(t("degraded"));
    return el("span", { class: "st-" + d.status, text: words.join(" · ") });
  }

  // units: "Đơn vị: pm25 ug/m3 · temp Cel", the units the device's SenML
  // readings gave its fields, as sent.
  function units(u) {
    const keys = Object.keys(u || {}).sort();
    if (!keys.length) return null;
    return el("p", { class: "units meta" }, t("int_units") + ": ",
      el("span", { translate: "no", text: keys.map((k) => `${k} ${u[k]}`).join(" · ") }));
  }

  function renderDevices(data) {
    const rows = $("device-rows");
    rows.replaceChildren();
    for (const d of data.devices) {
      rows.append(el("tr", { dataset: { device: d.id } },
        cell("int_col_device", {}, el("strong", { text: d.name }), el("br"), el("span", { class: "meta", text: `${t(d.kind)} · ${d.district_name}` })),
        cell("int_col_status", {}, status(d)),
        cell("int_col_last_seen", { class: "last-seen" }, d.last_seen ? `${dateTime(d.last_seen)} (${ago(d.last_seen)})` : t("int_never")),
        cell("int_col_last_payload", { class: "last-payload" }, d.last_payload.length ? raw(d.last_payload.join("\n")) : "—", units(d.units)),
        cell("int_col_stored_hour", { class: "n stored-hour" }, num(d.stored.hour)),
        cell("int_col_stored_day", { class: "n stored-day" }, num(d.stored.day)),
        cell("int_col_refused_hour", { class: "n refused-hour" + (d.refused.hour ? " bad" : "") }, num(d.refused.hour)),
        cell("int_col_refused_day", { class: "n refused-day" + (d.refused.day ? " bad" : "") }, num(d.refused.day))));
    }
    if (!data.devices.length) rows.append(el("tr", {}, el("td", { colspan: 8, text: t("int_no_devices") })));
    since = data.refusals_since;
    $("since").textContent = t("int_counts_note").replace("{since}", dateTime(since));
    const sel = $("check-device");
    const keep = sel.value;
    sel.replaceChildren(...data.devices.map((d) => el("option", { value: d.id, text: d.name })));
    if (keep && devices.has(keep)) sel.value = keep;
  }

  function renderErrors(data) {
    const rows = $("error-rows");
    rows.replaceChildren();
    for (const r of data.reports) {
      const name = deviceName(r.device);
      rows.append(el("tr", { class: "report" },
        cell("int_col_time", { class: "n" }, dateTime(r.ts)),
        cell("int_col_device", {}, name ? el("span", { text: name }) : (r.device ? raw(r.device) : "—")),
        cell("int_col_reason", { class: "reason" }, el("strong", { text: reason(r.reason) })),
        cell("int_col_detail", { class: "detail" }, raw(r.error + (r.payload_head ? "\n" + r.payload_head : "")))));
    }
    if (!data.reports.length) rows.append(el("tr", {}, el("td", { colspan: 4, text: t("int_no_errors") })));
    $("errors-since").textContent = t("int_errors_note").replace("{since}", dateTime(data.since));
  }

  async function refresh() {
    try {
      const d = await api("GET", "/api/v1/integrator/devices");
      devices = new Map(d.devices.map((x) => [x.id, x]));
      $("who").textContent = "— " + d.integrator.name;
      renderDevices(d);
      renderErrors(await api("GET", "/api/v1/integrator/errors"));
      $("status").textContent = t("int_updated").replace("{time}", IOC.time(new Date(IOC.clock.now()).toISOString()));
    } catch (e) {
      $("status").textContent = e.message;
    }
  }

  async function check(ev) {
    ev.preventDefault();
    const out = $("check-result");
    out.className = "";
    out.replaceChildren();
    const path = `/api/v1/integrator/validate/${encodeURIComponent($("check-device").value)}/${$("check-channel").value}`;
    let r;
    try {
      r = await fetch(path, { method: "POST", credentials: "same-origin", body: $("check-body").value,
        headers: { "Content-Type": "application/octet-stream", "X-CSRF-Token": IOC.session().csrf } });
    } catch (e) {
      out.textContent = t("err_network");
      return;
    }
    const v = await r.json().catch(() => null);
    if (!v || v.valid === undefined) {
      out.className = "invalid";
      out.textContent = v && v.code && IOC.has("err_" + v.code) ? t("err_" + v.code) : t("failed");
      return;
    }
    if (v.valid) {
      out.className = "valid";
      out.append(el("p", { class: "verdict", text: t("int_valid").replace("{n}", num(v.points.length)) }), raw(v.points.join("\n")));
    } else {
      out.className = "invalid";
      out.append(el("p", { class: "verdict" }, el("strong", { text: t("int_invalid") }), " ", el("span", { class: "reason", text: reason(v.reason) })),
        el("p", { class: "meta", text: t("int_ingest_said") }), raw(v.error));
    }
    for (const x of v.refused || []) {
      out.append(el("p", { class: "meta", text: t("int_refused_records").replace("{n}", num(x.points)) + " " + reason(x.reason) }), raw(x.device + ": " + x.error));
    }
  }

  async function start() {
    IOC.translate(document);
    $("lang").addEventListener("click", () => { IOC.setLang(IOC.getLang() === "vi" ? "en" : "vi"); refresh(); });
    $("logout").addEventListener("click", IOC.logout);
    $("check").addEventListener("submit", check);
    const s = await IOC.loadSession();
    if (s.role !== "integrator") {
      $("status").textContent = t("int_not_integrator");
      return;
    }
    await refresh();
    IOC.clock.every(10000, refresh);
  }
  start();
})();
