"use strict";
IOC.translate(document);
document.getElementById("lang").addEventListener("click", () => IOC.setLang(IOC.getLang() === "vi" ? "en" : "vi"));
document.getElementById("login").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const err = document.getElementById("error");
  err.textContent = "";
  try {
    await IOC.api("POST", "/api/v1/login", {
      username: document.getElementById("username").value,
      password: document.getElementById("password").value,
    });
    const next = new URLSearchParams(location.search).get("next") || "";
    // Only paths on this server: never an open redirect.
    location.href = next.startsWith("/") && !next.startsWith("//") ? next : (window.innerWidth < 800 ? "/tech/" : "/wall/");
  } catch (e) {
    err.textContent = e.message.includes("too many") ? e.message : IOC.t("login_failed");
  }
});
