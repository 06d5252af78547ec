// Home: the caller's classes with their meetings, and links to each meeting's pages.

import { getAll } from "/js/api.js";
import { byId, fill, h, showError } from "/js/dom.js";
import { dateTime, label } from "/js/format.js";
import { startPage } from "/js/page.js";

function meetingRow(meeting, me) {
  const id = meeting.meeting_id;
  const staff = me.role === "teacher" || me.role === "admin";
  return h(
    "tr",
    {},
    h("td", {}, meeting.topic),
    h("td", {}, dateTime(meeting.start_time, meeting.timezone)),
    h("td", {}, label(meeting.status, "MEETING_STATUS_")),
    h("td", { class: "number" }, String(meeting.registrant_count)),
    h(
      "td",
      {},
      staff && h("a", { href: `/participants/?meeting_id=${id}` }, "Participants"),
      staff && " · ",
      staff && h("a", { href: `/attendance/?meeting_id=${id}` }, "Attendance"),
    ),
  );
}

async function classSection(schoolClass, me) {
  const meetings = await getAll(`/v1/classes/${encodeURIComponent(schoolClass.class_id)}/meetings`, "meetings");
  const headingId = `class-${schoolClass.class_id}`;
  const staff = me.role === "teacher" || me.role === "admin";
  return h(
    "section",
    { class: "panel", "aria-labelledby": headingId },
    h("h2", { id: headingId }, schoolClass.name),
    h(
      "p",
      { class: "muted" },
      `${schoolClass.teacher_name} · ${schoolClass.student_count} students · ${schoolClass.school_year}`,
    ),
    h(
      "p",
      { class: "actions" },
      staff && h("a", { href: `/qr/?class_id=${schoolClass.class_id}` }, "Show a QR check-in code"),
      me.role === "admin" && h("a", { href: `/registration/?class_id=${schoolClass.class_id}` }, "Register students"),
    ),
    meetings.length
      ? h(
          "table",
          {},
          h("caption", { class: "visually-hidden" }, `Meetings of ${schoolClass.name}`),
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              ["Topic", "Starts", "Status", "Registered", "Pages"].map((text) => h("th", { scope: "col" }, text)),
            ),
          ),
          h(
            "tbody",
            {},
            meetings.map((meeting) => meetingRow(meeting, me)),
          ),
        )
      : h("p", {}, "No Zoom meetings are linked to this class yet."),
  );
}

async function main(me) {
  const openForm = byId("open-meeting");
  openForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const id = openForm.elements.namedItem("meeting_id").value.trim();
    const page = event.submitter?.value || "participants";
    location.assign(`/${page}/?meeting_id=${encodeURIComponent(id)}`);
  });
  try {
    const classes = await getAll("/v1/classes", "classes");
    const sections = await Promise.all(classes.map((schoolClass) => classSection(schoolClass, me)));
    fill(byId("classes"), sections.length ? sections : h("p", {}, "You have no classes yet."));
  } catch (error) {
    showError(error);
  } finally {
    byId("loading").hidden = true;
  }
}

const me = startPage();
if (me) main(me);
