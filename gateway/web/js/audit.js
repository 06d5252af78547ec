// Audit log (admins): filter the append-only log, page through it, export what matches as CSV.

import { download, getJson } from "/js/api.js";
import { busy, byId, clearError, fill, h, offerDownload, showError } from "/js/dom.js";
import { dateTime, label, rfc3339 } from "/js/format.js";
import { startPage } from "/js/page.js";

const FORBIDDEN = "Only administrators may see the audit log.";
const PAGE_SIZE = 50;
const state = { filter: {}, nextPageToken: "", shown: 0 };

function filterParams(form) {
  const value = (name) => form.elements.namedItem(name).value.trim();
  return {
    "filter.action": value("action"),
    "filter.actor_id": value("actor_id"),
    "filter.target_type": value("target_type"),
    "filter.target_id": value("target_id"),
    "filter.start_time": rfc3339(value("start_time")),
    "filter.end_time": rfc3339(value("end_time")),
    "filter.outcome": value("outcome"),
  };
}

function eventRow(event) {
  return h(
    "tr",
    { dataset: { eventId: event.event_id } },
    h("td", {}, dateTime(event.event_time)),
    h("td", {}, event.actor_role || "system", h("br"), h("span", { class: "muted mono" }, event.actor_id)),
    h("th", { scope: "row" }, event.action),
    h("td", {}, event.target_type, h("br"), h("span", { class: "muted mono" }, event.target_id)),
    h("td", {}, h("span", { class: `status ${event.outcome === "AUDIT_OUTCOME_FAILURE" ? "absent" : "present"}` }, label(event.outcome, "AUDIT_OUTCOME_"))),
    h("td", {}, event.detail, h("br"), h("span", { class: "muted mono" }, event.request_id)),
  );
}

function table() {
  return h(
    "table",
    { id: "events-table" },
    h("caption", { class: "visually-hidden" }, "Audit events, newest first"),
    h("thead", {}, h("tr", {}, ["Time", "Actor", "Action", "Target", "Outcome", "Detail and request"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}),
  );
}

async function showPage(first) {
  const reply = await getJson("/v1/audit-events", { ...state.filter, page_size: PAGE_SIZE, page_token: first ? "" : state.nextPageToken });
  const events = reply.events || [];
  if (first) {
    state.shown = 0;
    fill(byId("events"), events.length ? table() : h("p", {}, "No events match."));
  }
  byId("events").querySelector("tbody")?.append(...events.map(eventRow));
  state.shown += events.length;
  state.nextPageToken = reply.next_page_token || "";
  byId("more").hidden = !state.nextPageToken;
  byId("summary").textContent = `${state.shown} events shown${state.nextPageToken ? "; older ones follow" : ""}.`;
}

function main() {
  const form = byId("filter-form");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearError();
    state.filter = filterParams(form);
    busy(form, async () => {
      try {
        await showPage(true);
      } catch (error) {
        showError(error, { form, forbidden: FORBIDDEN });
      }
    });
  });
  byId("more").addEventListener("click", async () => {
    try {
      await showPage(false);
    } catch (error) {
      showError(error, { forbidden: FORBIDDEN });
    }
  });
  byId("export").addEventListener("click", () => {
    clearError();
    busy(form, async () => {
      try {
        const file = await download("/v1/audit-events:exportCsv", filterParams(form), "audit-events.csv");
        offerDownload(byId("export-link"), file, "Download the CSV again");
      } catch (error) {
        showError(error, { form, forbidden: FORBIDDEN });
      }
    });
  });
  form.requestSubmit();
}

if (startPage()) main();
