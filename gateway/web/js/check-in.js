// QR check-in, student's side: the code from the scanned link, sent once the student confirms.

import { postJson, requestId } from "/js/api.js";
import { busy, byId, clearError, fill, h, showError } from "/js/dom.js";
import { clock, label } from "/js/format.js";
import { param, startPage } from "/js/page.js";

function main() {
  const form = byId("check-in-form");
  const code = form.elements.namedItem("code");
  code.value = param("code");
  if (code.value) form.querySelector("button").focus();
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearError();
    fill(byId("result"));
    busy(form, async () => {
      try {
        const reply = await postJson("/v1/qr-check-ins", { request_id: requestId(), code: code.value.trim() });
        const record = reply.record || {};
        fill(
          byId("result"),
          h(
            "p",
            { class: "success", id: "checked-in" },
            `You are checked in for ${record.attendance_date}: ${label(record.status, "ATTENDANCE_STATUS_")}`,
            record.update_time ? ` (${clock(record.update_time)})` : "",
            ".",
          ),
          reply.flagged ? h("p", { class: "notice" }, "Your teacher will confirm this check-in.") : null,
        );
      } catch (error) {
        showError(error, { form, forbidden: "You may not check in to this class." });
      }
    });
  });
}

if (startPage()) main();
