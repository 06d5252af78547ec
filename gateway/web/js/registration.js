// Registration (admins): one student into every upcoming meeting of a class, with each personal
// join link; or a whole class as a job whose progress is followed live.

import { ApiError, events, getAll, getJson, postJson, requestId } from "/js/api.js";
import { busy, byId, clearError, fill, h, showError } from "/js/dom.js";
import { dateTime, duration, label } from "/js/format.js";
import { param, startPage } from "/js/page.js";

const FINAL_STATES = new Set(["JOB_STATE_COMPLETED", "JOB_STATE_CANCELLED"]);
const FORBIDDEN = "Only administrators may register students.";

function classOptions(select, classes, chosen) {
  fill(
    select,
    h("option", { value: "" }, "Choose a class"),
    classes.map((c) => h("option", { value: c.class_id, selected: c.class_id === chosen }, `${c.name} (${c.student_count} students)`)),
  );
}

/** The class's enrolled students, every page of ListClassStudents. */
function roster(classId) {
  return getAll(`/v1/classes/${classId}/students`, "students", { page_size: 1000 });
}

async function loadRoster() {
  const form = byId("student-form");
  const classId = form.elements.namedItem("class_id").value;
  const select = byId("student");
  const note = byId("roster-note");
  select.disabled = true;
  fill(select);
  note.textContent = "";
  if (!classId) return;
  note.textContent = "Loading the class's students…";
  try {
    const students = await roster(classId);
    if (!students.length) {
      note.textContent = "No student is enrolled in this class.";
      return;
    }
    fill(
      select,
      h("option", { value: "" }, "Choose a student"),
      students.map((s) =>
        h(
          "option",
          { value: s.student_id },
          `${s.display_name} — ${s.email}${s.email_allowed ? "" : " (email domain not allowed)"}`,
        ),
      ),
    );
    select.disabled = false;
    note.textContent = `${students.length} students.`;
  } catch (error) {
    note.textContent = "";
    showError(error, { forbidden: FORBIDDEN });
  }
}

function outcomeNote(registration) {
  const parts = [];
  if (registration.reason) parts.push(registration.reason);
  if (registration.retryable) parts.push("trying again later may work");
  if (registration.outcome === "REGISTRATION_OUTCOME_REGISTERED" && !registration.join_url) {
    parts.push("waiting for the host's approval");
  }
  return parts.join("; ");
}

function renderRegistration(reply) {
  const summary = reply.summary || {};
  const registrations = reply.registrations || [];
  const sentence =
    `${summary.total_count ?? registrations.length} meetings: ${summary.registered_count ?? 0} newly registered, ` +
    `${summary.already_registered_count ?? 0} already registered, ${summary.not_eligible_count ?? 0} not eligible, ` +
    `${summary.failed_count ?? 0} failed.`;
  byId("student-announcer").textContent = sentence;
  fill(
    byId("student-result"),
    h("h3", {}, "Result"),
    h("p", { id: "student-summary" }, sentence),
    registrations.length
      ? h(
          "table",
          { id: "registrations-table" },
          h("caption", { class: "visually-hidden" }, "Registration per meeting"),
          h("thead", {}, h("tr", {}, ["Meeting", "Starts", "Outcome", "Personal join link", "Note"].map((t) => h("th", { scope: "col" }, t)))),
          h(
            "tbody",
            {},
            registrations.map((r) =>
              h(
                "tr",
                { dataset: { meetingId: r.meeting_id, outcome: r.outcome } },
                h("th", { scope: "row" }, r.topic || r.meeting_id),
                h("td", {}, dateTime(r.start_time)),
                h("td", {}, label(r.outcome, "REGISTRATION_OUTCOME_")),
                h("td", {}, r.join_url ? h("a", { href: r.join_url, class: "join-url", rel: "noopener noreferrer", target: "_blank" }, r.join_url) : ""),
                h("td", {}, outcomeNote(r)),
              ),
            ),
          ),
        )
      : h("p", {}, "The class has no upcoming meetings that take registrations."),
  );
}

function wireStudentForm() {
  const form = byId("student-form");
  form.elements.namedItem("class_id").addEventListener("change", loadRoster);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearError();
    fill(byId("student-result"));
    byId("student-announcer").textContent = "";
    const body = {
      request_id: requestId(),
      class_id: form.elements.namedItem("class_id").value,
      student_id: form.elements.namedItem("student_id").value,
    };
    busy(form, async () => {
      try {
        renderRegistration(await postJson("/api/zoom/meetings/register-student", body));
      } catch (error) {
        showError(error, { form, forbidden: FORBIDDEN });
      }
    });
  });
}

// --- class jobs ---

let watching = null; // AbortController of the job stream being followed

function renderJob(job) {
  const progress = job.progress || {};
  const total = progress.total_count || 0;
  const done = total - (progress.pending_count || 0);
  const bar = byId("job-progress");
  bar.max = Math.max(total, 1);
  bar.value = done;
  const share = total ? Math.floor((done / total) * 100) : 0;
  bar.setAttribute("aria-valuetext", `${share} %, ${done} of ${total}`);
  const parts = [`${label(job.state, "JOB_STATE_")}: ${share} % (${done} of ${total})`];
  if (job.items_per_second) parts.push(`${Number(job.items_per_second).toFixed(1)} per second`);
  if (job.estimated_remaining_duration && !FINAL_STATES.has(job.state)) {
    parts.push(`about ${duration(job.estimated_remaining_duration)} left`);
  }
  if (job.state === "JOB_STATE_WAITING_FOR_QUOTA" && job.resume_time) {
    parts.push(`Zoom's daily limit is used up; it resumes ${dateTime(job.resume_time)}`);
  }
  byId("job-summary").textContent = parts.join(" · ");
  byId("job").dataset.state = job.state;
  fill(
    byId("job-counts"),
    [
      ["Registered", progress.registered_count, "job-registered"],
      ["Already registered", progress.already_registered_count, "job-already"],
      ["Not eligible", progress.not_eligible_count, "job-not-eligible"],
      ["Failed", progress.failed_count, "job-failed"],
      ["Cancelled", progress.cancelled_count, "job-cancelled"],
      ["Waiting", progress.pending_count, "job-pending"],
    ].map(([term, value, id]) => h("div", { id }, h("dt", {}, term), h("dd", {}, String(value ?? 0)))),
  );
  byId("cancel-form").hidden = FINAL_STATES.has(job.state);
}

async function followJob(jobId) {
  watching?.abort();
  const controller = new AbortController();
  watching = controller;
  byId("job").hidden = false;
  byId("job-heading").textContent = `Registration job ${jobId}`;
  let wait = 1;
  let last = null;
  while (!controller.signal.aborted) {
    try {
      for await (const message of events(`/v1/registration-jobs/${jobId}:watch`, { signal: controller.signal })) {
        last = message.job;
        renderJob(last);
        wait = 1;
      }
    } catch (error) {
      if (controller.signal.aborted) return;
      if (error instanceof ApiError && [401, 403, 404, 501].includes(error.status)) {
        showError(error, { forbidden: FORBIDDEN });
        return;
      }
    }
    if (last && FINAL_STATES.has(last.state)) return;
    await new Promise((resolve) => setTimeout(resolve, wait * 1000));
    wait = Math.min(wait * 2, 30);
  }
}

function rememberJob(jobId) {
  const url = new URL(location.href);
  url.searchParams.set("job", jobId);
  history.replaceState(null, "", url);
}

function wireClassForm() {
  const form = byId("class-form");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearError();
    const classId = form.elements.namedItem("class_id").value;
    busy(form, async () => {
      try {
        const reply = await postJson(`/v1/classes/${classId}/registration-jobs`, { request_id: requestId() });
        rememberJob(reply.job.job_id);
        renderJob(reply.job);
        followJob(reply.job.job_id);
      } catch (error) {
        showError(error, { form, forbidden: FORBIDDEN });
      }
    });
  });
  const cancel = byId("cancel-form");
  cancel.addEventListener("submit", (event) => {
    event.preventDefault();
    const jobId = new URLSearchParams(location.search).get("job");
    if (!jobId) return;
    busy(cancel, async () => {
      try {
        renderJob((await postJson(`/v1/registration-jobs/${jobId}:cancel`, { request_id: requestId() })).job);
      } catch (error) {
        showError(error, { forbidden: FORBIDDEN });
      }
    });
  });
}

async function main() {
  wireStudentForm();
  wireClassForm();
  const chosen = param("class_id");
  try {
    const classes = await getAll("/v1/classes", "classes");
    classOptions(byId("student-class"), classes, chosen);
    classOptions(byId("job-class"), classes, chosen);
    if (chosen) loadRoster();
  } catch (error) {
    showError(error, { forbidden: FORBIDDEN });
  }
  const jobId = param("job");
  if (/^[0-9a-f-]{36}$/i.test(jobId)) followJob(jobId);
}

if (startPage()) main();
