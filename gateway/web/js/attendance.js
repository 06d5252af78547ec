// A meeting's attendance: counts by status, the class's records for the meeting's date, the CSV
// export, Zoom's final report on demand, and a teacher marking a student excused.

import { ApiError, download, getJson, postJson, requestId } from "/js/api.js";
import { busy, byId, clearError, fill, h, offerDownload, showError, stats } from "/js/dom.js";
import { clock, dateTime, label } from "/js/format.js";
import { meetingIdParam, startPage } from "/js/page.js";

const state = { meetingId: "", reply: null, role: "" };

function announce(text) {
  byId("announcer").textContent = text;
}

function timezone() {
  return state.reply?.meeting?.timezone;
}

function renderCounts(counts = {}) {
  fill(
    byId("counts"),
    stats([
      ["Present", String(counts.present_count ?? 0), "count-present"],
      ["Late", String(counts.late_count ?? 0), "count-late"],
      ["Partial", String(counts.partial_count ?? 0), "count-partial"],
      ["Absent", String(counts.absent_count ?? 0), "count-absent"],
      ["Excused", String(counts.excused_count ?? 0), "count-excused"],
      ["Enrolled", String(counts.enrolled_count ?? 0), "count-enrolled"],
    ]),
  );
}

function excuseButton(record) {
  if (state.role !== "teacher" || record.status === "ATTENDANCE_STATUS_EXCUSED") return null;
  return h(
    "button",
    { type: "button", class: "quiet", onclick: () => askExcuse(record) },
    "Mark excused",
    h("span", { class: "visually-hidden" }, `: ${record.student_display_name}`),
  );
}

function renderRecords(records) {
  if (!records.length) {
    fill(
      byId("records"),
      h("p", {}, "No records for this date yet. They are made from Zoom's report after the meeting ends."),
    );
    return;
  }
  fill(
    byId("records"),
    h(
      "table",
      { id: "records-table" },
      h("caption", { class: "visually-hidden" }, "Attendance records"),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ["Student", "Status", "Minutes", "First joined", "Last left", "Source", "Note", ""].map((text) =>
            h("th", { scope: "col" }, text),
          ),
        ),
      ),
      h(
        "tbody",
        {},
        records.map((record) =>
          h(
            "tr",
            { dataset: { studentId: record.student_id } },
            h("th", { scope: "row" }, record.student_display_name),
            h(
              "td",
              {},
              h("span", { class: `status ${record.status.toLowerCase()}` }, label(record.status, "ATTENDANCE_STATUS_")),
              record.left_early ? h("span", { class: "muted" }, " · left early") : null,
            ),
            h("td", { class: "number" }, String(record.attended_minutes)),
            h("td", {}, clock(record.first_join_time, timezone())),
            h("td", {}, clock(record.last_leave_time, timezone())),
            h("td", {}, label(record.source, "ATTENDANCE_SOURCE_")),
            h("td", {}, record.note),
            h("td", {}, excuseButton(record)),
          ),
        ),
      ),
    ),
  );
}

function render() {
  const reply = state.reply;
  const meeting = reply.meeting || {};
  const topic = meeting.topic || `meeting ${state.meetingId}`;
  byId("title").textContent = `Attendance: ${topic}`;
  byId("crumb-meeting").textContent = topic;
  document.title = `Attendance: ${topic} · rollcall`;
  byId("meeting-facts").textContent = [
    `Zoom meeting ${state.meetingId}`,
    dateTime(meeting.start_time, meeting.timezone),
    reply.attendance_date && `class date ${reply.attendance_date}`,
    label(meeting.status, "MEETING_STATUS_"),
  ]
    .filter(Boolean)
    .join(" · ");
  const provisional = byId("provisional");
  provisional.hidden = !reply.provisional && reply.linked;
  provisional.textContent = !reply.linked
    ? "This meeting is not linked to a class, so it has no attendance records."
    : `Not final yet: ${reply.provisional_reason || "the meeting is running"}. ${(reply.live_participants || []).length} people are in the meeting now.`;
  for (const id of ["sync-form", "export-form"]) byId(id).classList.toggle("unavailable", !reply.linked);
  renderCounts(reply.counts);
  renderRecords(reply.records || []);
}

async function load() {
  state.reply = await getJson(`/api/zoom/meetings/${state.meetingId}/attendance`);
  render();
}

let excusing = null;

function askExcuse(record) {
  excusing = record;
  byId("excuse-name").textContent = record.student_display_name;
  const form = byId("excuse-form");
  form.reset();
  byId("excuse-dialog").showModal();
}

async function excuse(note) {
  const record = excusing;
  if (!record) return;
  excusing = null;
  try {
    const reply = await postJson(`/v1/classes/${state.reply.class_id}/attendance-records:update`, {
      request_id: requestId(),
      student_id: record.student_id,
      attendance_date: record.attendance_date || state.reply.attendance_date,
      status: "ATTENDANCE_STATUS_EXCUSED",
      note,
    });
    await load();
    announce(`${reply.record?.student_display_name || record.student_display_name} is marked excused.`);
  } catch (error) {
    showError(error);
  }
}

function wireExcuseDialog() {
  const dialog = byId("excuse-dialog");
  byId("excuse-cancel").addEventListener("click", () => dialog.close("cancel"));
  dialog.addEventListener("close", () => {
    const note = byId("excuse-note").value.trim();
    if (dialog.returnValue === "save") excuse(note);
    else excusing = null;
    dialog.returnValue = "";
  });
}

function wireSync() {
  const form = byId("sync-form");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearError();
    busy(form, async () => {
      try {
        const reply = await postJson(`/v1/meetings/${state.meetingId}/attendance:sync`, { request_id: requestId() });
        await load();
        announce(
          `Zoom's report has ${reply.report_row_count} rows; ${reply.records_written} records changed, ${reply.records_unchanged} stayed as they were.`,
        );
      } catch (error) {
        showError(error);
      }
    });
  });
}

function wireExport() {
  const form = byId("export-form");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearError();
    const date = state.reply?.attendance_date;
    if (!state.reply?.linked || !date) {
      showError(new ApiError(400, { message: "This meeting has no class date to export" }, ""));
      return;
    }
    busy(form, async () => {
      try {
        const file = await download(
          `/v1/classes/${state.reply.class_id}/attendance:exportCsv`,
          { start_date: date, end_date: date },
          `attendance-${date}.csv`,
        );
        offerDownload(byId("export-link"), file, "Download the CSV again");
        announce("The CSV file is ready.");
      } catch (error) {
        showError(error);
      }
    });
  });
}

async function main(me) {
  state.role = me.role;
  state.meetingId = meetingIdParam();
  if (!state.meetingId) {
    showError(new ApiError(400, { message: "Open this page from a meeting: the link has no meeting id" }, ""));
    return;
  }
  byId("participants-link").href = `/participants/?meeting_id=${state.meetingId}`;
  wireExcuseDialog();
  wireSync();
  wireExport();
  try {
    await load();
  } catch (error) {
    showError(error);
  }
}

const me = startPage();
if (me) main(me);
