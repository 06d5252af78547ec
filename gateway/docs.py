"""`/docs`: the OpenAPI document as a page, with a form per operation to try it.

Rendered on the server from the same document as `/openapi.json`; its script and style are files of
their own (`/docs/docs.js`, `/docs/docs.css`), so the page works under the gateway's CSP, which
allows no inline script or style. Nothing is fetched from another site.
"""

from __future__ import annotations

from html import escape
from typing import Any

__all__ = ["DOCS_CSS", "DOCS_JS", "docs_page"]


def _schema_text(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if schema.get("type") == "array":
        return f"array of {_schema_text(schema.get('items', {}))}"
    if "oneOf" in schema:
        return "integer (int64, or a decimal string)"
    text = str(schema.get("type", "any"))
    return f"{text} ({schema['format']})" if "format" in schema else text


def _parameters(operation: dict[str, Any]) -> str:
    rows = []
    for parameter in operation.get("parameters", []):
        name, where = parameter["name"], parameter["in"]
        required = " required" if parameter.get("required") else ""
        rows.append(
            "<tr>"
            f"<th scope=row><label for='{escape(operation['operationId'])}-{escape(name)}'>{escape(name)}</label></th>"
            f"<td>{escape(where)}</td><td>{escape(_schema_text(parameter.get('schema', {})))}</td>"
            f"<td><input id='{escape(operation['operationId'])}-{escape(name)}' name='{escape(name)}' "
            f"data-in='{escape(where)}'{required}></td></tr>"
        )
    if not rows:
        return ""
    return (
        "<table><thead><tr><th>parameter</th><th>in</th><th>type</th><th>value</th></tr></thead>"
        + "".join(rows)
        + "</table>"
    )


def _operation(path: str, method: str, operation: dict[str, Any]) -> str:
    operation_id = escape(operation["operationId"])
    description = operation.get("description", "")
    body = ""
    if "requestBody" in operation:
        schema = operation["requestBody"]["content"].get("application/json", {}).get("schema", {})
        body = (
            f"<p><label for='{operation_id}-body'>JSON body ({escape(_schema_text(schema))})</label></p>"
            f"<textarea id='{operation_id}-body' name='__body' rows='6'>{{}}</textarea>"
        )
    responses = operation.get("responses", {})
    success = responses.get("200", {})
    content = success.get("content", {})
    answer = ", ".join(
        f"{escape(kind)}: {escape(_schema_text(value.get('schema', {})))}" for kind, value in content.items()
    )
    return (
        f"<details id='{operation_id}'><summary><span class='method {escape(method)}'>{escape(method.upper())}</span> "
        f"<code>{escape(path)}</code> {escape(operation.get('summary', ''))}</summary>"
        + (f"<p class='description'>{escape(description)}</p>" if description else "")
        + f"<p>Answers {answer or 'JSON'}. Errors: <code>{{code, message, details}}</code>.</p>"
        f"<form data-method='{escape(method.upper())}' data-path='{escape(path)}'>"
        + _parameters(operation)
        + body
        + "<p><button type='submit'>Send</button></p></form><pre class='result' aria-live='polite'></pre></details>"
    )


def _schemas(document: dict[str, Any]) -> str:
    items = []
    for name, schema in document["components"]["schemas"].items():
        fields = "".join(
            f"<li><code>{escape(field)}</code>: {escape(_schema_text(value if isinstance(value, dict) else {}))}"
            + (f" — {escape(value['description'])}" if isinstance(value, dict) and "description" in value else "")
            + "</li>"
            for field, value in schema.get("properties", {}).items()
        )
        values = ", ".join(escape(str(v)) for v in schema.get("enum", []))
        description = f"<p>{escape(schema['description'])}</p>" if "description" in schema else ""
        listing = f"<ul>{fields}</ul>" if fields else (f"<p>{values}</p>" if values else "")
        items.append(
            f"<details id='schema-{escape(name)}'><summary><code>{escape(name)}</code></summary>"
            f"{description}{listing}</details>"
        )
    return "".join(items)


def docs_page(document: dict[str, Any]) -> str:
    """The HTML of /docs for `document` (an OpenAPI 3 dict)."""
    by_tag: dict[str, list[str]] = {}
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            tag = (operation.get("tags") or ["other"])[0]
            by_tag.setdefault(tag, []).append(_operation(path, method, operation))
    sections = "".join(
        f"<section><h2>{escape(tag)}</h2>{''.join(operations)}</section>" for tag, operations in sorted(by_tag.items())
    )
    info = document["info"]
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{escape(info['title'])}</title><link rel='stylesheet' href='/docs/docs.css'>"
        "<script type='module' src='/docs/docs.js'></script></head><body>"
        f"<header><h1>{escape(info['title'])}</h1><p>{escape(info.get('description', ''))}</p>"
        "<p>Machine-readable: <a href='/openapi.json'>/openapi.json</a> (OpenAPI 3.1).</p>"
        "<p><label for='token'>Bearer token for the forms below</label> "
        "<input id='token' type='password' autocomplete='off' size='60'></p></header>"
        f"<main>{sections}<section><h2>Schemas</h2>{_schemas(document)}</section></main></body></html>"
    )


DOCS_CSS = """
body { font: 16px/1.5 system-ui, sans-serif; margin: 0 auto; max-width: 70rem; padding: 1rem; color: #1b1b1b; }
details { border: 1px solid #ccc; border-radius: 4px; margin: 0.4rem 0; padding: 0.3rem 0.6rem; }
summary { cursor: pointer; }
.method { display: inline-block; min-width: 3.5rem; font-weight: bold; font-family: monospace; }
.get { color: #0b5394; } .post { color: #38761d; }
table { border-collapse: collapse; margin: 0.5rem 0; } th, td { text-align: left; padding: 0.2rem 0.5rem; }
textarea { width: 100%; font-family: monospace; }
pre.result { background: #f4f4f4; max-height: 30rem; overflow: auto; white-space: pre-wrap; }
.description { white-space: pre-line; }
"""

DOCS_JS = """// Sends one operation's form: path and query parameters, the JSON body, the bearer token.
const STREAM_READ_MS = 10000;

async function send(form, output) {
  let path = form.dataset.path;
  const query = new URLSearchParams();
  for (const input of form.querySelectorAll("input[data-in]")) {
    if (input.value === "") continue;
    if (input.dataset.in === "path") {
      path = path.replace(new RegExp("\\\\{" + input.name.replace(/\\./g, "\\\\.") + "(=[^}]*)?\\\\}"),
        encodeURIComponent(input.value));
    } else if (input.dataset.in === "query") {
      for (const value of input.value.split(",")) query.append(input.name, value.trim());
    }
  }
  const headers = {};
  const token = document.getElementById("token").value.trim();
  if (token) headers["authorization"] = "Bearer " + token;
  const init = { method: form.dataset.method, headers };
  const body = form.querySelector("textarea[name=__body]");
  if (body) { headers["content-type"] = "application/json"; init.body = body.value; }
  const controller = new AbortController();
  init.signal = controller.signal;
  const url = path + (query.toString() ? "?" + query : "");
  output.textContent = init.method + " " + url + "\\n";
  try {
    const response = await fetch(url, init);
    output.textContent += response.status + " " + response.statusText +
      "  (x-request-id " + response.headers.get("x-request-id") + ")\\n\\n";
    const type = response.headers.get("content-type") || "";
    if (type.startsWith("text/event-stream")) {
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      setTimeout(() => controller.abort(), STREAM_READ_MS);
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        output.textContent += decoder.decode(value, { stream: true });
      }
    } else if (type.startsWith("application/json")) {
      output.textContent += JSON.stringify(await response.json(), null, 2);
    } else {
      output.textContent += await response.text();
    }
  } catch (error) {
    output.textContent += error.name === "AbortError" ? "\\n(stopped reading after 10 s)" : String(error);
  }
}

for (const form of document.querySelectorAll("form[data-path]")) {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    send(form, form.nextElementSibling);
  });
}
"""
