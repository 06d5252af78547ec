// Building the page from data without innerHTML: names and topics come from Zoom and people, so
// every text goes in as a text node.

import { ApiError, explain } from "/js/api.js";

/** An element: h("a", {href: "/x", class: "link"}, "text", child). `null`/`false` children are skipped. */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") element.className = value;
    else if (name === "dataset") Object.assign(element.dataset, value);
    else if (name.startsWith("on") && typeof value === "function") element.addEventListener(name.slice(2), value);
    else if (value === true) element.setAttribute(name, "");
    else element.setAttribute(name, String(value));
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces an element's content. */
export function fill(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

export function byId(id) {
  const element = document.getElementById(id);
  if (!element) throw new Error(`the page has no #${id}`);
  return element;
}

/** A description list from [term, value] pairs: the statistics blocks. */
export function stats(pairs) {
  return h("dl", { class: "stats" }, pairs.map(([term, value, id]) => h("div", { id }, h("dt", {}, term), h("dd", {}, value))));
}

/** Shows `error` in the page's alert region, in words for the reader; 400 field violations go
 * next to their fields in `form` (aria-invalid, aria-describedby) when it has them. */
export function showError(error, { region = byId("error"), form = null, forbidden } = {}) {
  clearFieldErrors(form);
  const lines = [explain(error, { forbidden })];
  if (error instanceof ApiError) {
    const violations = error.fieldViolations;
    const placeable = violations.filter((v) => form?.elements.namedItem(v.field.split(".").pop()) instanceof HTMLElement);
    if (violations.length && placeable.length === violations.length) {
      lines[0] = violations.length === 1 ? "Please correct the field marked below." : "Please correct the fields marked below.";
    }
    for (const violation of violations) {
      const field = form?.elements.namedItem(violation.field.split(".").pop());
      if (field instanceof HTMLElement) {
        const note = h("p", { class: "field-error", id: `${field.id || field.name}-error` }, violation.description);
        field.setAttribute("aria-invalid", "true");
        field.setAttribute("aria-describedby", note.id);
        field.insertAdjacentElement("afterend", note);
      } else {
        lines.push(`${violation.field}: ${violation.description}`);
      }
    }
  } else {
    console.error(error);
  }
  fill(region, lines.length === 1 ? lines[0] : h("ul", {}, lines.map((line) => h("li", {}, line))));
  region.hidden = false;
  region.scrollIntoView({ block: "nearest" });
}

export function clearError(region = byId("error")) {
  region.hidden = true;
  region.replaceChildren();
}

function clearFieldErrors(form) {
  if (!form) return;
  for (const note of form.querySelectorAll(".field-error")) note.remove();
  for (const field of form.querySelectorAll("[aria-invalid]")) {
    field.removeAttribute("aria-invalid");
    field.removeAttribute("aria-describedby");
  }
}

/** Disables a form's controls while `work` runs, so a double click sends nothing twice. */
export async function busy(form, work) {
  const controls = [...form.querySelectorAll("button, input, select, textarea")].filter((c) => !c.disabled);
  for (const control of controls) control.disabled = true;
  form.setAttribute("aria-busy", "true");
  try {
    return await work();
  } finally {
    for (const control of controls) control.disabled = false;
    form.removeAttribute("aria-busy");
  }
}

/** Hands a fetched download to the browser through a visible link, and follows it once. */
export function offerDownload(container, file, label) {
  const previous = container.querySelector("a[download]");
  if (previous) URL.revokeObjectURL(previous.href);
  const link = h("a", { href: file.url, download: file.name, class: "download" }, `${label} (${file.name})`);
  fill(container, link);
  link.click();
  return link;
}
