// The admin page: enrol a wall (its kiosk link is shown once), list the
// enrolled walls and revoke one (it is disconnected at once).
"use strict";
(async () => {
  const { t, el } = IOC;
  const $ = (id) => document.getElementById(id);
  IOC.translate(document);
  $("lang").addEventListener("click", () => { IOC.setLang(IOC.getLang() === "vi" ? "en" : "vi"); load(); });
  try {
    await IOC.loadSession();
    IOC.setPeople((await IOC.api("GET", "/api/v1/province")).people);
  } catch (e) { return; }
  if (!IOC.can("admin")) { $("denied").hidden = false; return; }
  $("kiosks").hidden = false;

  let kiosks = [];
  async function load() {
    IOC.translate(document);
    try {
      kiosks = (await IOC.api("GET", "/api/v1/admin/kiosks")).kiosks;
    } catch (e) { $("error").textContent = e.message; return; }
    render();
  }

  function render() {
    if (!kiosks.length) {
      $("kiosk-rows").replaceChildren(el("tr", {}, el("td", { colspan: "6", text: t("kiosk_none") })));
      return;
    }
    $("kiosk-rows").replaceChildren(...kiosks.map(row));
  }

  function row(k) {
    const revoked = !!k.revoked_at;
    const state = revoked ? t("kiosk_revoked").replace("{time}", IOC.dateTime(k.revoked_at)).replace("{who}", IOC.person(k.revoked_by)) : t("kiosk_active");
    const actions = el("td", { class: "actions" });
    if (!revoked) {
      actions.append(el("button", { type: "button", class: "danger revoke", text: t("kiosk_revoke"), onclick: () => confirmRevoke(k, actions) }));
    }
    return el("tr", { class: revoked ? "revoked" : "", dataset: { kiosk: k.id, state: revoked ? "revoked" : "active" } },
      el("td", { text: k.name }), el("td", { text: IOC.person(k.created_by) }), el("td", { text: IOC.dateTime(k.created_at) }),
      el("td", { text: k.last_used ? IOC.dateTime(k.last_used) : t("kiosk_never") }), el("td", { class: "state", text: state }), actions);
  }

  // Revoking asks first, in the row: the wall named goes dark at once.
  function confirmRevoke(k, cell) {
    cell.replaceChildren(
      el("span", { text: t("kiosk_revoke_confirm").replace("{name}", k.name) }),
      el("button", { type: "button", class: "danger confirm", text: t("kiosk_revoke"), onclick: async (ev) => {
        ev.target.disabled = true;
        try {
          await IOC.api("DELETE", "/api/v1/admin/kiosks/" + encodeURIComponent(k.id));
        } catch (e) { $("error").textContent = e.message; }
        load();
      } }),
      el("button", { type: "button", class: "plain", text: t("cancel"), onclick: render }));
  }

  $("enrol").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    $("error").textContent = "";
    $("enrol-submit").disabled = true;
    try {
      const res = await IOC.api("POST", "/api/v1/admin/kiosks", { name: $("kiosk-name").value.trim() });
      // Shown this once: the server keeps only a hash of the code.
      $("kiosk-link").value = location.origin + res.link;
      $("link-box").hidden = false;
      $("kiosk-name").value = "";
    } catch (e) {
      $("error").textContent = e.message;
    }
    $("enrol-submit").disabled = false;
    load();
  });
  $("copy").addEventListener("click", async () => {
    const input = $("kiosk-link");
    try {
      await navigator.clipboard.writeText(input.value);
    } catch (e) {
      input.select();
      document.execCommand("copy");
    }
    $("copy").textContent = t("copied");
  });
  load();
})();
