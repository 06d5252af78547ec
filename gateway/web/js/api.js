// The gateway's JSON API as the pages use it: the bearer token kept in sessionStorage, errors as
// ApiError, Server-Sent Events read with fetch (EventSource cannot send the Authorization header),
// and downloads fetched with the token and handed to the browser as a blob link.

const TOKEN_KEY = "rollcall.token";

// The gateway's table, for errors that arrive inside a stream (`event: error`) without a status.
const HTTP_STATUS = {
  INVALID_ARGUMENT: 400,
  FAILED_PRECONDITION: 400,
  OUT_OF_RANGE: 400,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  ABORTED: 409,
  RESOURCE_EXHAUSTED: 429,
  UNIMPLEMENTED: 501,
  UNAVAILABLE: 503,
  DEADLINE_EXCEEDED: 504,
};

export class ApiError extends Error {
  constructor(status, body, requestId) {
    super(body?.message || `HTTP ${status}`);
    this.status = status;
    this.code = body?.code || "";
    this.details = Array.isArray(body?.details) ? body.details : [];
    this.requestId = requestId || "";
    this.retryAfterSeconds = 0;
  }

  /** `google.rpc.BadRequest` field violations as [{field, description}]. */
  get fieldViolations() {
    const found = [];
    for (const detail of this.details) {
      for (const violation of detail.field_violations || detail.fieldViolations || []) {
        found.push({ field: violation.field || "", description: violation.description || "" });
      }
    }
    return found;
  }

  /** The `google.rpc.ErrorInfo` reason, e.g. EMAIL_DOMAIN_NOT_ALLOWED; "" without one. */
  get reason() {
    const info = this.details.find((detail) => String(detail["@type"] || "").endsWith("google.rpc.ErrorInfo"));
    return info?.reason || "";
  }
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

export function setToken(value) {
  sessionStorage.setItem(TOKEN_KEY, value);
}

export function clearToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

/** The token's claims (sub, role, exp), read without verifying: only to shape the page; the
 * services verify every call. Null when there is no readable token. */
export function claims(value = token()) {
  const parts = value.split(".");
  if (parts.length !== 3) return null;
  try {
    const base64 = parts[1].replace(/-/g, "+").replace(/_/g, "/");
    const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
    const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
    const parsed = JSON.parse(new TextDecoder().decode(bytes));
    return parsed && typeof parsed === "object" ? parsed : null;
  } catch {
    return null;
  }
}

/** Back to the sign-in page, which returns here afterwards. */
export function signInAgain() {
  clearToken();
  const next = location.pathname + location.search;
  location.assign(`/sign-in/?next=${encodeURIComponent(next)}`);
}

/** A query string from an object; arrays repeat the name, empty values are left out. */
export function query(params = {}) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    for (const item of Array.isArray(value) ? value : [value]) {
      if (item !== undefined && item !== null && item !== "") search.append(name, String(item));
    }
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

/** An idempotency key for a mutation, made once per user action. */
export function requestId() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function errorFrom(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  const error = new ApiError(response.status, body, response.headers.get("x-request-id"));
  error.retryAfterSeconds = Number(response.headers.get("retry-after")) || 0;
  return error;
}

/** fetch() with the bearer token; a non-2xx answer throws ApiError, a 401 also returns to sign-in. */
export async function request(path, { method = "GET", body, signal, accept = "application/json" } = {}) {
  const headers = { accept };
  const bearer = token();
  if (bearer) headers.authorization = `Bearer ${bearer}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
    cache: "no-store",
  });
  if (response.ok) return response;
  const error = await errorFrom(response);
  if (response.status === 401) signInAgain();
  throw error;
}

export async function getJson(path, params, options = {}) {
  return (await request(path + query(params), options)).json();
}

export async function postJson(path, body = {}, options = {}) {
  return (await request(path, { ...options, method: "POST", body })).json();
}

/** Every page of a paginated list: `field` names the repeated field of the response. */
export async function getAll(path, field, params = {}) {
  const items = [];
  let pageToken = "";
  do {
    const page = await getJson(path, { ...params, page_token: pageToken });
    items.push(...(page[field] || []));
    pageToken = page.next_page_token || "";
  } while (pageToken);
  return items;
}

/** Server-Sent Events of a server-streaming RPC: yields each message's JSON; returns at
 * `event: end`; throws ApiError for `event: error` (the call failed midway). */
export async function* events(path, { signal } = {}) {
  const response = await request(path, { signal, accept: "text/event-stream" });
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let name = "message";
  let data = [];
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let newline;
      while ((newline = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, newline).replace(/\r$/, "");
        buffer = buffer.slice(newline + 1);
        if (line === "") {
          if (data.length) {
            const payload = JSON.parse(data.join("\n"));
            if (name === "end") return;
            if (name === "error") throw new ApiError(HTTP_STATUS[payload.code] || 500, payload, "");
            yield payload;
          }
          name = "message";
          data = [];
        } else if (!line.startsWith(":")) {
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
          if (field === "event") name = text;
          else if (field === "data") data.push(text);
        }
      }
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

/** Fetches a download (a CSV export) with the token; returns an object URL and the file name
 * from Content-Disposition. The caller revokes the URL when it replaces it. */
export async function download(path, params, fallbackName) {
  const response = await request(path + query(params), { accept: "text/csv" });
  const blob = await response.blob();
  const disposition = response.headers.get("content-disposition") || "";
  const named = /filename="?([^";]+)"?/i.exec(disposition);
  return { url: URL.createObjectURL(blob), name: named ? named[1] : fallbackName, size: blob.size };
}


/** What a person should read for `error`. `forbidden` replaces the 403 sentence on pages about
 * something other than a class. */
export function explain(error, { forbidden = "You may not see this class." } = {}) {
  if (!(error instanceof ApiError)) {
    return "rollcall could not be reached. Check your connection and try again.";
  }
  const status = error.status;
  if (status === 401) return "Your sign-in has ended. Sign in again.";
  if (status === 403) return forbidden;
  if (status === 404) return `Not found: ${error.message}.`;
  if (status === 429) {
    const wait = error.retryAfterSeconds;
    const when = wait ? ` Try again in ${wait >= 3600 ? `${Math.ceil(wait / 3600)} h` : `${Math.ceil(wait / 60)} min`}.` : "";
    return error.reason === "ZOOM_DAILY_LIMIT"
      ? `Zoom's daily limit for this is used up.${when || " Try again tomorrow."}`
      : `Too many requests at once.${when || " Try again in a minute."}`;
  }
  if (status === 503 || status === 504) return "Zoom is not answering, try again later.";
  if (status === 501) return "This part of rollcall is not ready yet.";
  if (status === 400 || status === 409) return sentence(error.message);
  const reference = error.requestId ? ` (reference ${error.requestId})` : "";
  return `Something went wrong on our side. Try again; if it keeps happening, tell your administrator${reference}.`;
}

function sentence(text) {
  const trimmed = String(text || "").trim();
  if (!trimmed) return "The request was refused.";
  // A message that starts with a field name ("filter.actor_id: ...") keeps it as written.
  const capital = /^[a-z]+[ ,;]/.test(trimmed) ? trimmed[0].toUpperCase() + trimmed.slice(1) : trimmed;
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}
