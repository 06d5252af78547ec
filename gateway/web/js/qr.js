// QR check-in, teacher's side: shows the class's current check-in code as a QR image and fetches
// a new one every rotation interval, so a photo of an old code stops working soon.

import { ApiError, getAll, postJson } from "/js/api.js";
import { byId, clearError, fill, h, showError } from "/js/dom.js";
import { clock, seconds } from "/js/format.js";
import { param, startPage } from "/js/page.js";
import { qrSvg } from "/js/qrcode.js";

const RETRY_SECONDS = 10;
let timer = 0;

function schedule(wait) {
  clearTimeout(timer);
  timer = setTimeout(refresh, Math.max(1, wait) * 1000);
}

async function refresh() {
  const classId = param("class_id");
  const meetingId = param("meeting_id");
  try {
    const reply = await postJson(`/v1/classes/${classId}/qr-codes`, { meeting_id: /^\d+$/.test(meetingId) ? meetingId : "0" });
    clearError();
    const image = qrSvg(reply.check_in_url, { label: "QR code of the check-in link" });
    image.id = "qr-image";
    fill(byId("qr"), image);
    byId("qr-caption").textContent = "Scan to check in";
    const link = byId("check-in-link");
    link.href = reply.check_in_url;
    link.textContent = reply.check_in_url;
    byId("expiry").textContent = `This code works until ${clock(reply.expire_time)}; a new one comes by itself.`;
    schedule(seconds(reply.rotation_interval) || 30);
  } catch (error) {
    showError(error);
    if (!(error instanceof ApiError) || ![401, 403, 404, 400].includes(error.status)) schedule(RETRY_SECONDS);
  }
}

async function showClassName(classId) {
  try {
    const found = (await getAll("/v1/classes", "classes")).find((c) => c.class_id === classId);
    if (found) {
      byId("title").textContent = `QR check-in: ${found.name}`;
      document.title = `QR check-in: ${found.name} · rollcall`;
    }
  } catch {
    // The code itself says whether the caller may use this class; the name is a nicety.
  }
}

function main() {
  const classId = param("class_id");
  if (!/^[0-9a-f-]{36}$/i.test(classId)) {
    showError(new ApiError(400, { message: "Open this page from a class: the link has no class id" }, ""));
    return;
  }
  showClassName(classId);
  refresh();
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") refresh();
  });
}

if (startPage()) main();
