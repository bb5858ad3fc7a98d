// Placeholder of the login script (its front-end comes from the dashboard branch):
// trades the token for a session cookie, then loads the dashboard.
"use strict";
document.getElementById("login").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const token = document.getElementById("token").value;
  const resp = await fetch("/api/v1/session", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ token }),
  });
  if (resp.ok) {
    window.location.reload();
  } else {
    const err = document.getElementById("error");
    err.textContent = "wrong token";
    err.hidden = false;
  }
});
