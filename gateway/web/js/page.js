// What every signed-in page does first: send a visitor without a token to sign-in, show who is
// signed in, keep admin-only links from people who cannot use them, and wire "Sign out".

import { claims, clearToken, signInAgain, token } from "/js/api.js";

const ROLE_NAMES = { admin: "administrator", teacher: "teacher", student: "student", service: "service" };

/** Returns the caller's claims ({sub, role, exp}), or null after sending them to sign in. */
export function startPage() {
  const current = claims();
  const expired = current?.exp && current.exp * 1000 <= Date.now();
  if (!token() || !current || expired) {
    signInAgain();
    return null;
  }
  for (const element of document.querySelectorAll("[data-role]")) {
    element.hidden = !element.dataset.role.split(" ").includes(current.role);
  }
  for (const link of document.querySelectorAll("header nav a")) {
    if (link.getAttribute("href") === location.pathname) link.setAttribute("aria-current", "page");
  }
  const who = document.getElementById("who");
  if (who) who.textContent = `Signed in as ${ROLE_NAMES[current.role] || current.role}`;
  document.getElementById("sign-out")?.addEventListener("click", () => {
    clearToken();
    location.assign("/sign-in/");
  });
  return current;
}

/** A query parameter of this page's URL; "" when absent. */
export function param(name) {
  return new URLSearchParams(location.search).get(name) || "";
}

/** A Zoom meeting id from the URL: digits only (int64 ids stay strings, never Numbers). */
export function meetingIdParam() {
  const value = param("meeting_id");
  return /^\d{1,20}$/.test(value) ? value : "";
}
