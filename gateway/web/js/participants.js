// A meeting's participants: statistics, expected students (attended or absent), each person's
// merged segments, and the unmatched; live from the roster stream while the meeting runs.

import { ApiError, events, getJson } from "/js/api.js";
import { byId, clearError, fill, h, showError, stats } from "/js/dom.js";
import { clock, dateTime, duration, label, percent } from "/js/format.js";
import { meetingIdParam, startPage } from "/js/page.js";

const RECONNECT_MAX_SECONDS = 30;

const state = {
  meetingId: "",
  meeting: null,
  expected: [],
  people: new Map(), // participant_key -> Participant
  statistics: null,
};

function timezone() {
  return state.meeting?.timezone;
}

function announce(text) {
  byId("announcer").textContent = text;
}

function inMeetingNow(participant) {
  return participant.in_meeting ? h("span", { class: "badge live" }, "in the meeting now") : null;
}

function segmentList(participant) {
  return h(
    "ol",
    { class: "segments" },
    (participant.segments || []).map((segment) =>
      h(
        "li",
        {},
        `${clock(segment.join_time, timezone())} – `,
        segment.leave_time ? clock(segment.leave_time, timezone()) : "still in the meeting",
        segment.duration ? ` (${duration(segment.duration)})` : "",
        segment.display_name && segment.display_name !== participant.display_name
          ? h("span", { class: "muted" }, ` as “${segment.display_name}”`)
          : null,
      ),
    ),
  );
}

function renderStats() {
  const s = state.statistics || {};
  fill(
    byId("stats"),
    stats([
      ["Participants", String(s.total_participants ?? 0), "stat-total"],
      ["Students joined", String(s.joined_count ?? 0), "stat-joined"],
      ["Students expected", String(s.expected_count ?? 0), "stat-expected"],
      ["Attendance rate", percent(s.attendance_rate_percent), "stat-rate"],
      ["Total time", duration(s.total_duration), "stat-total-duration"],
      ["Average time", duration(s.average_duration), "stat-average-duration"],
    ]),
  );
}

function renderExpected() {
  if (!state.expected.length) {
    fill(byId("expected"), h("p", {}, "This meeting is not linked to a class, so no students are expected."));
    return;
  }
  const rows = state.expected.map((student) => {
    const participant = state.people.get(student.student_id) || student.participant;
    const attended = Boolean(participant) || student.attended;
    return h(
      "tr",
      { dataset: { studentId: student.student_id }, class: attended ? "attended" : "absent" },
      h("th", { scope: "row" }, student.display_name),
      h("td", {}, h("span", { class: `status ${attended ? "attended" : "absent"}` }, attended ? "Attended" : "Absent")),
      h("td", {}, participant ? duration(participant.attended_duration) : ""),
      h("td", {}, participant ? clock(participant.first_join_time, timezone()) : "", " ", participant && inMeetingNow(participant)),
    );
  });
  fill(
    byId("expected"),
    h(
      "table",
      { id: "expected-table" },
      h("caption", { class: "visually-hidden" }, "Expected students"),
      h("thead", {}, h("tr", {}, ["Student", "Attendance", "Time in meeting", "First joined"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, rows),
    ),
  );
}

function peopleTable(people, id, caption) {
  if (!people.length) return h("p", { id }, "Nobody yet.");
  return h(
    "table",
    { id },
    h("caption", { class: "visually-hidden" }, caption),
    h("thead", {}, h("tr", {}, ["Name", "Matched by", "Time in meeting", "Segments"].map((t) => h("th", { scope: "col" }, t)))),
    h(
      "tbody",
      {},
      people.map((person) =>
        h(
          "tr",
          { dataset: { participantKey: person.participant_key } },
          h("th", { scope: "row" }, person.display_name || "(no name)", " ", inMeetingNow(person)),
          h("td", {}, label(person.match_method, "MATCH_METHOD_")),
          h("td", {}, duration(person.attended_duration)),
          h("td", {}, segmentList(person)),
        ),
      ),
    ),
  );
}

function render() {
  const meeting = state.meeting || {};
  byId("title").textContent = `Participants: ${meeting.topic || `meeting ${state.meetingId}`}`;
  byId("crumb-meeting").textContent = meeting.topic || `Meeting ${state.meetingId}`;
  document.title = `Participants: ${meeting.topic || state.meetingId} · rollcall`;
  byId("meeting-facts").textContent = [
    `Zoom meeting ${state.meetingId}`,
    dateTime(meeting.start_time, meeting.timezone),
    label(meeting.status, "MEETING_STATUS_"),
  ]
    .filter(Boolean)
    .join(" · ");
  renderStats();
  renderExpected();
  const everyone = [...state.people.values()].sort((a, b) => String(a.first_join_time).localeCompare(String(b.first_join_time)));
  fill(byId("people"), peopleTable(everyone.filter((p) => p.student_id), "people-table", "Matched participants"));
  fill(byId("unmatched"), peopleTable(everyone.filter((p) => !p.student_id), "unmatched-table", "Unmatched participants"));
}

async function load() {
  const reply = await getJson(`/api/zoom/meetings/${state.meetingId}/participants`);
  state.meeting = reply.meeting || null;
  state.expected = reply.expected_attendees || [];
  state.people = new Map();
  for (const person of [...(reply.participants || []), ...(reply.unmatched_participants || [])]) {
    state.people.set(person.participant_key, person);
  }
  state.statistics = reply.statistics || null;
  render();
}

function apply(change) {
  if (change.statistics) state.statistics = change.statistics;
  const type = change.change_type;
  if (type === "ROSTER_CHANGE_TYPE_SNAPSHOT") {
    for (const person of change.participants || []) state.people.set(person.participant_key, person);
  } else if (type === "ROSTER_CHANGE_TYPE_JOINED" || type === "ROSTER_CHANGE_TYPE_LEFT") {
    const person = change.participant;
    if (person) {
      state.people.set(person.participant_key, person);
      const at = clock(change.event_time, timezone());
      announce(`${person.display_name || "Someone"} ${type === "ROSTER_CHANGE_TYPE_JOINED" ? "joined" : "left"} at ${at}.`);
    }
  } else if (type === "ROSTER_CHANGE_TYPE_MEETING_STARTED") {
    if (state.meeting) state.meeting.status = "MEETING_STATUS_STARTED";
    announce("The meeting started.");
  } else if (type === "ROSTER_CHANGE_TYPE_MEETING_ENDED") {
    if (state.meeting) state.meeting.status = "MEETING_STATUS_ENDED";
    announce("The meeting ended.");
  }
  render();
}

function setLive(on) {
  const badge = byId("live");
  badge.hidden = !on;
  badge.textContent = on ? "Live: this page updates as people join and leave" : "";
}

/** Follows the roster until the meeting ends; reconnects with growing waits when the stream
 * drops (the gateway closes streams after its stream deadline). */
async function watch() {
  let wait = 1;
  while (state.meeting?.status !== "MEETING_STATUS_ENDED") {
    try {
      // "Live" only once the first message (the snapshot) came: the service has subscribed by then,
      // so no change after this point is missed.
      for await (const change of events(`/v1/meetings/${state.meetingId}/participants:watch`)) {
        if (wait > 1 || !byId("error").hidden) clearError();
        setLive(true);
        apply(change);
        wait = 1;
      }
    } catch (error) {
      setLive(false);
      showError(error);
      if (error instanceof ApiError && [401, 403, 404, 501].includes(error.status)) return;
      // Anything else passes (an outage, a dropped connection): say so and follow again shortly.
    }
    setLive(false);
    if (state.meeting?.status === "MEETING_STATUS_ENDED") break;
    await new Promise((resolve) => setTimeout(resolve, wait * 1000));
    wait = Math.min(wait * 2, RECONNECT_MAX_SECONDS);
  }
  await load(); // the final picture, as stored after the meeting
}

async function main() {
  state.meetingId = meetingIdParam();
  if (!state.meetingId) {
    showError(new ApiError(400, { message: "Open this page from a meeting: the link has no meeting id" }, ""));
    return;
  }
  byId("attendance-link").href = `/attendance/?meeting_id=${state.meetingId}`;
  try {
    await load();
    clearError();
  } catch (error) {
    showError(error);
    return;
  }
  if (state.meeting?.status !== "MEETING_STATUS_ENDED") watch();
}

if (startPage()) main();
