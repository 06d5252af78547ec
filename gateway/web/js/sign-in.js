// Sign-in: keeps a bearer token for this tab. In development the gateway may offer demo users
// (GET /dev/demo-users, POST /dev/tokens); otherwise a token is pasted.

import { ApiError, claims, clearToken, setToken } from "/js/api.js";
import { busy, byId, clearError, fill, h, showError } from "/js/dom.js";

/** Where to go after signing in: a path on this site only, never another origin. */
function nextPath() {
  const next = new URLSearchParams(location.search).get("next") || "/";
  return next.startsWith("/") && !next.startsWith("//") && !next.startsWith("/\\") ? next : "/";
}

async function acceptToken(raw) {
  const value = raw.trim().replace(/^Bearer\s+/i, "");
  const found = claims(value);
  if (!found) throw new Error("not a token");
  if (found.exp && found.exp * 1000 <= Date.now()) throw new Error("expired");
  // Any signed-in caller may list classes: this checks the token before keeping it.
  const response = await fetch("/v1/classes?page_size=1", {
    headers: { authorization: `Bearer ${value}`, accept: "application/json" },
    cache: "no-store",
  });
  if (response.status === 401) throw new Error("refused");
  if (!response.ok && response.status !== 403) {
    let body = null;
    try {
      body = await response.json();
    } catch {
      body = null;
    }
    throw new ApiError(response.status, body, response.headers.get("x-request-id"));
  }
  setToken(value);
  location.assign(nextPath());
}

const PROBLEMS = {
  "not a token": "That is not a bearer token: it should be three parts separated by dots.",
  expired: "That token has expired. Get a new one and paste it again.",
  refused: "rollcall refused that token. Get a new one and paste it again.",
};

function explainSignIn(error) {
  if (error instanceof ApiError) return error;
  const message = PROBLEMS[error.message];
  return message ? new ApiError(400, { message }, "") : error;
}

async function offerDemoUsers() {
  let users = [];
  try {
    const response = await fetch("/dev/demo-users", { headers: { accept: "application/json" } });
    if (!response.ok || !(response.headers.get("content-type") || "").includes("json")) return;
    users = (await response.json()).users || [];
  } catch {
    return;
  }
  if (!users.length) return;
  const list = byId("demo-user-list");
  fill(
    list,
    users.map((user) =>
      h(
        "li",
        {},
        h(
          "button",
          {
            type: "button",
            onclick: (event) => signInAs(event.currentTarget, user.email),
          },
          `${user.display_name} (${user.role})`,
        ),
        " ",
        h("span", { class: "muted" }, user.email),
      ),
    ),
  );
  byId("demo-users").hidden = false;
}

async function signInAs(button, email) {
  clearError();
  button.disabled = true;
  try {
    const response = await fetch("/dev/tokens", {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify({ email }),
    });
    if (!response.ok) throw new ApiError(response.status, await response.json().catch(() => null), "");
    await acceptToken((await response.json()).token);
  } catch (error) {
    showError(explainSignIn(error));
  } finally {
    button.disabled = false;
  }
}

clearToken();
const form = byId("token-form");
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearError();
  await busy(form, async () => {
    try {
      await acceptToken(form.elements.namedItem("token").value);
    } catch (error) {
      showError(explainSignIn(error), { form });
    }
  });
});
offerDemoUsers();
