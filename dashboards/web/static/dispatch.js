// Dispatch on the wall and the phone: who has an alert and since when, its
// response targets counting down, the steps, and the alert's timeline
// (GET /api/v1/alerts/{id}/timeline), in the page's language.
"use strict";
const IOCDispatch = (() => {
  const { t, el } = IOC;
  let teams = []; // GET /api/v1/province's teams
  function setTeams(list) { teams = list || []; }
  function getTeams() { return teams; }
  // assignee names user:<username> or team:<id> the way people say it.
  function assignee(a) {
    if (!a) return "";
    const [kind, ...rest] = a.split(":");
    const id = rest.join(":");
    if (kind === "team") { const tm = teams.find((x) => x.id === id); return tm ? tm.name : id; }
    return IOC.person(id);
  }
  // mine: the alert is dispatched to the session's user or one of its teams.
  function mine(a) {
    const s = IOC.session();
    if (!a.dispatch || !s) return false;
    const as = a.dispatch.assignee;
    return as === "user:" + s.username || (s.teams || []).some((id) => as === "team:" + id);
  }
  function last(a) { const st = a.dispatch.steps || []; return st[st.length - 1] || { at: a.updated_at }; }
  // who: "Đội kỹ thuật TP. Thái Nguyên · Đã nhận từ 14:05".
  function who(a) {
    if (!a.dispatch) return "";
    return t("has_it").replace("{who}", assignee(a.dispatch.assignee)).replace("{step}", t("state_" + a.dispatch.step)).replace("{time}", IOC.time(last(a).at));
  }
  function dur(ms) {
    const m = Math.max(0, Math.floor(ms / 60000));
    return m < 60 ? t("dur_min").replace("{n}", IOC.num(m)) : t("dur_hour").replace("{h}", IOC.num(Math.floor(m / 60))).replace("{m}", IOC.num(m % 60));
  }
  // due: the response target that counts now: acknowledge (until someone
  // has), then restore; {text, late} or null when there is none.
  function due(a, now) {
    now = now || IOC.clock.now();
    let key, at;
    if (!a.ack && a.ack_due) { key = "ack"; at = a.ack_due; } else if (a.restore_due) { key = "restore"; at = a.restore_due; } else return null;
    const left = new Date(at) - now;
    const late = left <= 0 || (key === "ack" ? a.ack_overdue : a.restore_overdue);
    return { late, text: t(key + (late ? "_late" : "_due")).replace("{d}", dur(Math.abs(left))) };
  }
  // next: the steps the technician may take now (contract.js ops).
  const nextOps = { assigned: ["accept"], accepted: ["enRoute", "onSite"], en_route: ["onSite"], on_site: ["fixed"], fixed: [] };
  function next(a) { return a.dispatch ? nextOps[a.dispatch.step].map((k) => CONTRACT.op[k]) : []; }
  function url(id, what) {
    const [rule, ...dev] = id.split("/");
    return `/api/v1/alerts/${encodeURIComponent(rule)}/${encodeURIComponent(dev.join("/"))}/${what}`;
  }
  // step posts a dispatch op (en_route goes to .../en-route); fixed may
  // carry a photo (a Blob), sent as a form.
  function step(a, op, note, photo) {
    if (photo) {
      const f = new FormData();
      f.append("note", note || "");
      f.append("photo", photo, photo.name || "anh.jpg");
      return IOC.api("POST", url(a.id, op), f);
    }
    return IOC.api("POST", url(a.id, op.replace("_", "-")), { note: note || "" });
  }
  // shrink scales a camera photo down to 1920 px on its long side and
  // re-encodes it as JPEG (a phone's photo is several MB; this drops its
  // location data too). If the browser cannot, the file goes as it is and
  // the server judges it.
  async function shrink(file) {
    try {
      const bmp = await createImageBitmap(file);
      const k = Math.min(1, 1920 / Math.max(bmp.width, bmp.height));
      const c = document.createElement("canvas");
      c.width = Math.round(bmp.width * k);
      c.height = Math.round(bmp.height * k);
      c.getContext("2d").drawImage(bmp, 0, 0, c.width, c.height);
      bmp.close();
      const blob = await new Promise((ok) => c.toBlob(ok, "image/jpeg", 0.85));
      return blob ? Object.assign(blob, { name: "anh.jpg" }) : file;
    } catch (e) {
      return file;
    }
  }
  // photo: a thumbnail of a fix's photo that opens it.
  function photo(href) {
    return el("a", { class: "photo", href, target: "_blank", rel: "noopener", title: t("photo_open") },
      el("img", { src: href, alt: t("photo_alt"), loading: "lazy" }));
  }
  function photoURL(id, photoID) { return url(id, "photos/" + encodeURIComponent(photoID)); }
  function assign(a, to, note) { return IOC.api("POST", url(a.id, CONTRACT.op.assign), { assignee: to, note: note || "" }); }
  // timeline fills ol with the alert's timeline, oldest first.
  async function timeline(id, ol) {
    const r = await IOC.api("GET", url(id, "timeline"));
    ol.replaceChildren(...(r.entries.length ? r.entries.map((e) => {
      const parts = [IOC.dateTime(e.at), t("transition_" + e.transition)];
      if (e.by && e.by !== "auto") parts.push(IOC.person(e.by));
      if (e.transition === "assigned" && e.assignee) parts.push("→ " + assignee(e.assignee));
      return el("li", { dataset: { transition: e.transition } }, parts.join(" · ") + (e.note ? " — " + e.note : ""),
        e.photo ? photo(e.photo) : null);
    }) : [el("li", { class: "empty", text: t("timeline_empty") })]));
  }
  // choices: the teams and their technicians to assign a to, the teams
  // that cover its district or integrator first.
  function choices(a, device) {
    const fits = (tm) => (tm.districts || []).includes(a.district) || (device && (tm.integrators || []).includes(device.integrator));
    const ordered = [...teams].sort((x, y) => (fits(y) ? 1 : 0) - (fits(x) ? 1 : 0));
    const people = [...new Set(teams.flatMap((tm) => tm.members || []))].sort((x, y) => IOC.person(x).localeCompare(IOC.person(y), "vi"));
    return { teams: ordered, people };
  }
  // openAssign: the wall's dialog to assign a to a team or a technician.
  function openAssign(a, device, title, onError) {
    const c = choices(a, device);
    const sel = el("select", { id: "assign-to", "aria-label": t("assign_to") },
      el("optgroup", { label: t("teams") }, ...c.teams.map((tm) => el("option", { value: "team:" + tm.id, text: tm.name }))),
      el("optgroup", { label: t("technicians") }, ...c.people.map((u) => el("option", { value: "user:" + u, text: IOC.person(u) }))));
    const note = el("textarea", { id: "assign-note", rows: "3", maxlength: String(CONTRACT.maxNoteBytes), "aria-label": t("assign_note") });
    const d = el("dialog", { class: "dispatch", id: "assign-dialog" });
    const send = el("button", { type: "submit", id: "assign-send", text: t("assign") });
    const form = el("form", { method: "dialog" },
      el("h3", { text: t("assign_title") }), el("p", { class: "what", text: title }),
      el("label", {}, el("span", { text: t("assign_to") }), sel), el("label", {}, el("span", { text: t("assign_note") }), note),
      el("div", { class: "row" }, el("button", { type: "button", text: t("cancel"), onclick: () => d.close() }), send));
    form.addEventListener("submit", () => { assign(a, sel.value, note.value.trim()).catch((e) => onError(e)); });
    d.append(form);
    d.addEventListener("close", () => d.remove());
    document.body.append(d);
    d.showModal();
  }
  // openTimeline: the wall's dialog with an alert's timeline, read again
  // every 5 s while open (the store gets each entry just after the wall).
  function openTimeline(id, title) {
    const ol = el("ol", { class: "timeline", id: "timeline" });
    const d = el("dialog", { class: "dispatch", id: "timeline-dialog" },
      el("h3", { text: t("timeline") }), el("p", { class: "what", text: title }), ol,
      el("div", { class: "row" }, el("button", { type: "button", text: t("close"), onclick: () => d.close() })));
    let timer = 0;
    const load = () => timeline(id, ol).catch((e) => ol.replaceChildren(el("li", { class: "empty", text: t("failed") + ": " + e.message })))
      .finally(() => { if (d.open) timer = setTimeout(load, 5000); });
    d.addEventListener("close", () => { clearTimeout(timer); d.remove(); });
    document.body.append(d);
    d.showModal();
    load();
  }
  return { setTeams, getTeams, assignee, mine, who, due, dur, next, step, shrink, photo, photoURL, assign, timeline, choices, openAssign, openTimeline };
})();
