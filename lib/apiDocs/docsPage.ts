import type { JsonSchema } from "./schemas.ts";

const escapeHtml = (text: string) =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
  );

/** Inline code spans (`x`) of the documents' Markdown descriptions; everything else stays text. */
const prose = (text: unknown) =>
  typeof text === "string" ? escapeHtml(text).replace(/`([^`]+)`/g, "<code>$1</code>") : "";

const schemaBlock = (schema: unknown) => `<pre>${escapeHtml(JSON.stringify(schema, null, 2))}</pre>`;

const anchor = (text: string) => text.replace(/[^A-Za-z0-9]+/g, "-");

/** The parts of the documents the page shows. */
interface OperationView {
  operationId?: string;
  summary?: string;
  description?: string;
  tags?: string[];
  security?: unknown[];
  parameters?: Array<{ name: string; in: string; schema?: unknown; description?: string }>;
  requestBody?: { content?: Record<string, { schema?: unknown }> };
  responses?: Record<string, { description?: string }>;
}
interface MessageView {
  name?: string;
  title?: string;
  summary?: string;
  payload?: unknown;
}

function renderOperation(method: string, path: string, op: OperationView): string {
  const params = op.parameters ?? [];
  const body = op.requestBody?.content;
  const responses = Object.entries(op.responses ?? {});
  return `<section class="op" id="${anchor(op.operationId ?? `${method}${path}`)}">
<h3><span class="method ${method}">${method.toUpperCase()}</span> <code>${escapeHtml(path)}</code></h3>
<p>${prose(op.summary)}${op.security?.length === 0 ? " <em>(no token needed)</em>" : ""}</p>
${op.description ? `<p>${prose(op.description)}</p>` : ""}
${
  params.length
    ? `<table><tr><th>parameter</th><th>in</th><th>schema</th><th></th></tr>${params
        .map(
          (p) =>
            `<tr><td><code>${escapeHtml(p.name)}</code></td><td>${p.in}</td><td><code>${escapeHtml(JSON.stringify(p.schema))}</code></td><td>${prose(p.description)}</td></tr>`,
        )
        .join("")}</table>`
    : ""
}
${
  body
    ? Object.entries(body)
        .map(
          ([type, { schema }]) =>
            `<details><summary>body <code>${escapeHtml(type)}</code></summary>${schemaBlock(schema)}</details>`,
        )
        .join("")
    : ""
}
<ul>${responses
    .map(([status, r]) => `<li><strong>${escapeHtml(status)}</strong> ${prose(r.description)}</li>`)
    .join("")}</ul>
</section>`;
}

/**
 * The `/docs` page: a self-contained HTML reference rendered from the two documents (no script, no CDN,
 * nothing fetched at run time). The JSON documents stay the machine-readable source at `/openapi.json` and
 * `/asyncapi.json`.
 */
export function renderDocsPage(openApi: JsonSchema, asyncApi: JsonSchema): string {
  const paths = (openApi.paths ?? {}) as Record<string, Record<string, OperationView>>;
  const byTag = new Map<string, string[]>();
  for (const [path, methods] of Object.entries(paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const tag = op.tags?.[0] ?? "Other";
      byTag.set(tag, [...(byTag.get(tag) ?? []), renderOperation(method, path, op)]);
    }
  }
  const schemas = (openApi.components as { schemas?: Record<string, unknown> }).schemas ?? {};
  const messages = (asyncApi.components as { messages?: Record<string, MessageView> }).messages ?? {};
  const info = openApi.info as { title: string; description: string };
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(info.title)}</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
code,pre{font:13px ui-monospace,monospace}pre{background:#f5f5f5;padding:.5rem;overflow:auto}
.op{border-top:1px solid #ddd;padding:.5rem 0}.method{display:inline-block;min-width:4.5rem;font-weight:700}
.get{color:#0a6}.post{color:#06c}.put{color:#a60}.delete{color:#c22}table{border-collapse:collapse}
td,th{border:1px solid #ddd;padding:.2rem .4rem;text-align:left;vertical-align:top}
</style></head><body>
<h1>${escapeHtml(info.title)}</h1>
<p>${prose(info.description)}</p>
<p>Machine-readable: <a href="openapi.json">openapi.json</a> (OpenAPI 3.1), <a href="asyncapi.json">asyncapi.json</a> (AsyncAPI 3).</p>
${[...byTag.entries()].map(([tag, ops]) => `<h2>${escapeHtml(tag)}</h2>${ops.join("\n")}`).join("\n")}
<h2>WebSocket frames and SQS messages</h2>
${Object.values(messages)
  .map(
    (m) =>
      `<details><summary><code>${escapeHtml(String(m.name))}</code> ${escapeHtml(String(m.title ?? ""))}: ${prose(m.summary)}</summary>${schemaBlock(m.payload)}</details>`,
  )
  .join("\n")}
<h2>Schemas</h2>
${Object.entries(schemas)
  .map(
    ([name, schema]) =>
      `<details id="schema-${anchor(name)}"><summary><code>${escapeHtml(name)}</code></summary>${schemaBlock(schema)}</details>`,
  )
  .join("\n")}
</body></html>
`;
}
