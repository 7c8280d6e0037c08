// The provisioning page (/admin/devices/, admins): integrators and devices in the
// registry, their accounts, a device list imported from CSV or Excel after
// a dry run that shows every row's error, and a secret shown once.
"use strict";
(() => {
  const { t, el } = IOC;
  const $ = (id) => document.getElementById(id);
  let integrators = [], devices = [], districts = new Map();
  let silent = [], retired = []; // devices silent for 30 days or more, and retired ones
  let report = null; // the last import report, for re-rendering in the other language

  // call is IOC.api for the admin routes: it also returns the body of a
  // refusal (422: every error) instead of throwing a bare message.
  async function call(method, path, body, raw) {
    const opts = { method, headers: { "X-CSRF-Token": IOC.session().csrf }, credentials: "same-origin" };
    if (raw) {
      opts.body = raw;
      opts.headers["Content-Type"] = raw.type || "application/octet-stream";
    } else if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    let r;
    try {
      r = await fetch(path, opts);
    } catch (e) {
      throw new Error(t("err_network"));
    }
    const data = await r.json().catch(() => null);
    if (r.ok || (r.status === 422 && data && data.rows !== undefined)) return data;
    if (data && data.error) console.info("api", method, path, r.status, data.error);
    const key = data && data.code === "not_silent" ? "adm_err_not_silent" : r.status === 409 ? "adm_err_conflict" : r.status === 422 ? "adm_err_refused" : r.status === 404 ? "err_not_found"
      : r.status === 413 ? "adm_err_too_large" : r.status === 501 ? "adm_err_off" : "err_" + ((data && data.code) || "internal");
    throw Object.assign(new Error(IOC.has(key) ? t(key) : t("failed")), { details: (data && data.errors) || [] });
  }

  function status(text) { $("status").textContent = text || ""; }
  function failed(e) {
    status(e.message);
    $("refused").hidden = !e.details || e.details.length === 0;
    $("refused-text").textContent = e.message;
    $("refused-list").replaceChildren(...(e.details || []).map((d) => el("li", { text: d })));
  }
  function done(text) {
    $("refused").hidden = true;
    status(text);
  }
  function showSecret(ans) {
    $("secret-user").textContent = ans.username;
    $("secret-value").textContent = ans.secret;
    $("secret").hidden = false;
    $("secret").scrollIntoView({ block: "nearest" });
  }
  function hideSecret() {
    $("secret-value").textContent = "";
    $("secret-user").textContent = "";
    $("secret").hidden = true;
  }

  const intName = (id) => (integrators.find((i) => i.id === id) || {}).name || id;

  function renderIntegrators() {
    const body = $("integrators").tBodies[0];
    body.replaceChildren();
    for (const it of integrators) {
      const acc = it.accounts.filter((a) => a.role === "integrator");
      const off = acc.length > 0 && acc.every((a) => a.disabled);
      const accText = acc.length === 0 ? t("adm_no_account") : acc.map((a) => a.username + " (" + t(a.disabled ? "adm_disabled" : "adm_enabled") + ")").join(", ");
      body.append(el("tr", { dataset: { id: it.id } },
        el("td", { text: it.id }), el("td", { text: it.name }), el("td", { class: "n", text: IOC.num(it.devices, 0) }),
        el("td", { class: "account", text: accText }),
        el("td", { class: "actions" },
          el("button", { type: "button", class: "secret-btn", text: t(acc.length ? "adm_rotate" : "adm_make_secret"), onclick: () => secret("integrators", it.id) }),
          acc.length ? el("button", { type: "button", class: "disable-btn", text: t(off ? "adm_enable" : "adm_disable"), onclick: () => disable("integrators", it.id, !off) }) : null,
          it.devices === 0 ? el("button", { type: "button", class: "delete-btn", text: t("adm_delete"), onclick: () => remove("integrators", it.id) }) : null)));
    }
    for (const sel of [$("dev-integrator"), $("dev-filter")]) {
      const keep = sel.value;
      sel.querySelectorAll("option[data-int]").forEach((o) => o.remove());
      for (const it of integrators) sel.append(el("option", { value: it.id, text: it.name, dataset: { int: it.id } }));
      sel.value = keep;
      if (sel.selectedIndex < 0) sel.selectedIndex = 0;
    }
  }

  function renderDevices() {
    const body = $("devices").tBodies[0];
    body.replaceChildren();
    const only = $("dev-filter").value;
    for (const d of devices) {
      if (only && d.integrator !== only) continue;
      const acc = d.account;
      body.append(el("tr", { dataset: { id: d.id } },
        el("td", { text: d.id }), el("td", { text: d.name }), el("td", { text: t(d.kind) }),
        el("td", { text: districts.get(d.district) || d.district }), el("td", { text: intName(d.integrator) }),
        el("td", { class: "account", text: acc ? t(acc.disabled ? "adm_disabled" : "adm_enabled") : t("adm_no_account") }),
        el("td", { class: "actions" },
          el("button", { type: "button", class: "secret-btn", text: t(acc ? "adm_rotate" : "adm_make_secret"), onclick: () => secret("devices", d.id) }),
          acc ? el("button", { type: "button", class: "disable-btn", text: t(acc.disabled ? "adm_enable" : "adm_disable"), onclick: () => disable("devices", d.id, !acc.disabled) }) : null,
          el("button", { type: "button", class: "delete-btn", text: t("adm_delete"), onclick: () => remove("devices", d.id) }))));
    }
  }

  // day: "02/11/2026" in Asia/Ho_Chi_Minh (a silent device's last data is
  // a month old or more, so the year matters).
  function day(s) {
    if (!s) return "";
    const p = {};
    const f = new Intl.DateTimeFormat(IOC.getLang() === "vi" ? "vi-VN" : "en-GB", { timeZone: "Asia/Ho_Chi_Minh", day: "2-digit", month: "2-digit", year: "numeric" });
    for (const x of f.formatToParts(new Date(s))) p[x.type] = x.value;
    return `${p.day}/${p.month}/${p.year}`;
  }

  function renderSilent() {
    const body = $("silent").tBodies[0];
    const checked = new Set([...body.querySelectorAll("input:checked")].map((c) => c.value));
    body.replaceChildren(...silent.map((d) => el("tr", { dataset: { id: d.id } },
      el("td", {}, el("input", { type: "checkbox", value: d.id, checked: checked.has(d.id), onchange: selectionChanged })),
      el("td", { text: d.id }), el("td", { text: d.name }), el("td", { text: intName(d.integrator) }),
      el("td", { text: day(d.last_seen) }), el("td", { class: "n", text: IOC.num(d.silent_days, 0) }),
      el("td", { class: "actions" },
        el("button", { type: "button", class: "retire-btn", text: t("adm_retire"), onclick: () => retire([d.id]) })))));
    $("silent").hidden = silent.length === 0;
    $("silent-none").hidden = silent.length !== 0;
    $("retire-selected").hidden = silent.length === 0;
    $("retired").tBodies[0].replaceChildren(...retired.map((d) => el("tr", { dataset: { id: d.id } },
      el("td", { text: d.id }), el("td", { text: d.name }), el("td", { text: intName(d.integrator) }), el("td", { text: day(d.retired) }),
      el("td", { class: "actions" },
        el("button", { type: "button", class: "unretire-btn", text: t("adm_unretire"), onclick: () => unretire(d.id) })))));
    $("retired").hidden = retired.length === 0;
    $("retired-none").hidden = retired.length !== 0;
    selectionChanged();
  }

  function selected() { return [...$("silent").tBodies[0].querySelectorAll("input:checked")].map((c) => c.value); }
  function selectionChanged() {
    const n = selected().length;
    $("retire-selected").disabled = n === 0;
    $("retire-selected").textContent = t("adm_retire_selected").replace("{n}", IOC.num(n, 0));
    $("silent-all").checked = n > 0 && n === silent.length;
    $("silent-all").setAttribute("aria-label", t("adm_select_all"));
  }

  function renderReport() {
    const box = $("import-report"), tb = $("import-errors");
    if (!report) {
      box.dataset.state = "none";
      $("import-summary").textContent = "";
      tb.hidden = true;
      return;
    }
    const n = (v) => IOC.num(v, 0);
    const errs = report.errors || [];
    let state = "ok", text = t("adm_import_ok").replace("{rows}", n(report.rows)).replace("{devices}", n(report.devices.length));
    if (errs.length) {
      state = "errors";
      text = t("adm_import_errors").replace("{rows}", n(report.rows)).replace("{errors}", n(errs.length));
    } else if (report.applied) {
      state = "applied";
      text = t("adm_import_applied").replace("{devices}", n(report.devices.length));
    }
    box.dataset.state = state;
    $("import-summary").textContent = text;
    tb.hidden = errs.length === 0;
    tb.tBodies[0].replaceChildren(...errs.map((e) => el("tr", {},
      el("td", { class: "n", text: n(e.row) }), el("td", { text: e.column || "" }), el("td", { text: IOC.getLang() === "vi" ? e.vi : e.en }))));
    $("import-apply").disabled = state !== "ok";
  }

  async function load() {
    const [ints, devs, quiet] = await Promise.all([call("GET", "/api/v1/admin/integrators"), call("GET", "/api/v1/admin/devices"),
      call("GET", "/api/v1/admin/devices/silent")]);
    integrators = ints.integrators;
    devices = devs.devices.filter((d) => !d.retired);
    silent = quiet.silent;
    retired = quiet.retired;
    renderIntegrators();
    renderDevices();
    renderSilent();
  }

  async function act(fn, okText) {
    try {
      const ans = await fn();
      if (ans && ans.secret) showSecret(ans);
      done(ans && ans.reload_error ? t("adm_reload_failed") : okText);
      await load();
      return ans;
    } catch (e) {
      failed(e);
      return null;
    }
  }
  const secret = (what, id) => act(() => call("POST", `/api/v1/admin/${what}/${encodeURIComponent(id)}/secret`, {}), t("adm_saved"));
  const disable = (what, id, off) => act(() => call("POST", `/api/v1/admin/${what}/${encodeURIComponent(id)}/disable`, { disabled: off }), t("adm_saved"));
  function remove(what, id) {
    if (!confirm(t("adm_confirm_delete").replace("{id}", id))) return;
    act(() => call("DELETE", `/api/v1/admin/${what}/${encodeURIComponent(id)}`), t("adm_saved"));
  }

  function retire(ids) {
    if (!confirm(t("adm_confirm_retire").replace("{n}", IOC.num(ids.length, 0)).replace("{id}", ids.join(", ")))) return;
    act(() => call("POST", "/api/v1/admin/devices/retire", { devices: ids }), t("adm_retired_done").replace("{n}", IOC.num(ids.length, 0)));
  }
  const unretire = (id) => act(() => call("POST", `/api/v1/admin/devices/${encodeURIComponent(id)}/unretire`, {}), t("adm_saved"));

  async function importFile(dry) {
    const f = $("import-file").files[0];
    if (!f) return;
    try {
      report = await call("POST", "/api/v1/admin/devices/import" + (dry ? "?dry_run=true" : ""), undefined, f);
      done(report.reload_error ? t("adm_reload_failed") : "");
      renderReport();
      if (report.applied) await load();
    } catch (e) {
      report = null;
      renderReport();
      failed(e);
    }
  }

  const decimal = (s) => Number(String(s).trim().replace(",", "."));

  async function init() {
    IOC.translate(document);
    $("lang").addEventListener("click", () => {
      IOC.setLang(IOC.getLang() === "vi" ? "en" : "vi");
      renderIntegrators();
      renderDevices();
      renderSilent();
      renderReport();
    });
    $("logout").addEventListener("click", IOC.logout);
    $("secret-done").addEventListener("click", hideSecret);
    await IOC.loadSession();
    if (!IOC.can("admin")) {
      status(t("err_forbidden"));
      return;
    }
    const prov = await IOC.api("GET", "/api/v1/province");
    for (const d of prov.districts) {
      districts.set(d.id, d.name);
      $("dev-district").append(el("option", { value: d.id, text: d.name }));
    }
    $("int-form").addEventListener("submit", (e) => {
      e.preventDefault();
      act(() => call("POST", "/api/v1/admin/integrators", { id: $("int-id").value.trim(), name: $("int-name").value.trim(), account: $("int-account").checked }), t("adm_saved"))
        .then((ans) => { if (ans) $("int-form").reset(); });
    });
    $("dev-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const d = { id: $("dev-id").value.trim(), kind: $("dev-kind").value, name: $("dev-name").value.trim(), district: $("dev-district").value,
        integrator: $("dev-integrator").value, lat: decimal($("dev-lat").value), lon: decimal($("dev-lon").value), commissioning: $("dev-commissioning").checked };
      if ($("dev-parent").value.trim()) d.parent = $("dev-parent").value.trim();
      act(() => call("POST", "/api/v1/admin/devices", d), t("adm_saved")).then((ans) => { if (ans) $("dev-form").reset(); });
    });
    $("dev-filter").addEventListener("change", renderDevices);
    $("import-form").addEventListener("submit", (e) => { e.preventDefault(); importFile(true); });
    $("import-file").addEventListener("change", () => {
      const f = $("import-file").files[0];
      const name = $("import-name");
      if (f) {
        delete name.dataset.i18n; // a file name is not translated
        name.textContent = f.name;
      } else {
        name.dataset.i18n = "adm_no_file";
        name.textContent = t("adm_no_file");
      }
      report = null;
      renderReport();
    });
    $("import-apply").addEventListener("click", () => importFile(false));
    $("silent-all").addEventListener("change", () => {
      for (const c of $("silent").tBodies[0].querySelectorAll("input")) c.checked = $("silent-all").checked;
      selectionChanged();
    });
    $("retire-selected").addEventListener("click", () => { const ids = selected(); if (ids.length) retire(ids); });
    try {
      await load();
      document.body.dataset.loaded = "1";
    } catch (e) {
      failed(e);
    }
  }
  init();
})();
