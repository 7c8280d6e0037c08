"use strict";
// safeNext returns next when it is a path on this server, else "". Browsers
// read "\" as "/" and drop tabs and newlines, so "/\evil.example" or
// "/\t/evil.example" would leave the site: refuse those characters, then
// resolve the URL and demand this page's origin. Never an open redirect.
function safeNext(next) {
  if (typeof next !== "string" || !next.startsWith("/") || next.startsWith("//") || /[\\\u0000-\u001f\u007f]/.test(next)) {
    return "";
  }
  let u;
  try {
    u = new URL(next, location.origin);
  } catch (e) {
    return "";
  }
  return u.origin === location.origin ? u.pathname + u.search + u.hash : "";
}
IOC.translate(document);
document.getElementById("lang").addEventListener("click", () => IOC.setLang(IOC.getLang() === "vi" ? "en" : "vi"));
document.getElementById("login").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const err = document.getElementById("error");
  err.textContent = "";
  try {
    const s = await IOC.api("POST", "/api/v1/login", {
      username: document.getElementById("username").value,
      password: document.getElementById("password").value,
    });
    const next = safeNext(new URLSearchParams(location.search).get("next"));
    const home = s && s.role === "integrator" ? "/integrator/" : (window.innerWidth < 800 ? "/tech/" : "/wall/");
    location.href = next || home;
  } catch (e) {
    err.textContent = e.code === "rate_limited" || e.code === "network" ? e.message : IOC.t("login_failed");
  }
});
