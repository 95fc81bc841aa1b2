import { z } from "zod";
import { validationFailed } from "../errors.ts";
import { limits } from "../limits.ts";
import { escapeForSqs } from "../listener/cloudEventJson.ts";
import { printable } from "../text/storableText.ts";
import { parseWith } from "../validation.ts";

/**
 * EventBridge's input transformer, for subscriptions: `inputPathsMap` names values picked from the event
 * (the CloudEvent the subscription would otherwise receive) with a JSONPath subset, and `inputTemplate`
 * says what to send instead, with `<name>` placeholders. Semantics and limits follow AWS's documentation
 * ("Amazon EventBridge input transformation", and the InputTransformer API reference).
 */
export interface InputTransformer {
  inputPathsMap: Record<string, string>;
  inputTemplate: string;
}

/** What a subscription's messages carry: the CloudEvent (default) or only its `data`. */
export type DeliveryFormat = "cloudevent" | "raw";

/** AWS's limits: 100 variables, keys and paths of at most 256 characters, templates of at most 8192. */
export const MAX_INPUT_PATHS = 100;
const MAX_KEY_LENGTH = 256;
const MAX_PATH_LENGTH = 256;
export const MAX_TEMPLATE_LENGTH = 8192;

/** AWS's key pattern; keys never contain a dot, so they cannot shadow a predefined variable. */
const KEY = /^[A-Za-z0-9_-]+$/;

/**
 * Predefined variables, AWS's names adapted to the bus: the rule is the subscription, the event is the
 * CloudEvent, its ingestion time is when it was appended. `aws.events.event` is the event without `data`
 * (AWS: without `detail`), `aws.events.event.json` the whole event; both only as a JSON value.
 */
const PREDEFINED = new Set([
  "aws.events.rule-name",
  "aws.events.event.ingestion-time",
  "aws.events.event",
  "aws.events.event.json",
]);
const WHOLE_EVENT = new Set(["aws.events.event", "aws.events.event.json"]);

/** A placeholder: `<` a name `>`. Other text with angle brackets is left alone. */
const PLACEHOLDER = /<([A-Za-z0-9_.-]+)>/y;

type Segment = { kind: "name"; name: string } | { kind: "index"; index: number } | { kind: "wildcard" };

/**
 * The JSONPath subset EventBridge evaluates: `$`, then `.name` (letters, digits, `_`, `-`, `/`), `[n]`
 * array indices and `*` / `[*]` wildcards.
 */
const SEGMENT = /\.([A-Za-z0-9_/-]+)|\.\*|\[(\d{1,9})\]|\[\*\]/y;

function parsePath(path: string): Segment[] | undefined {
  if (!path.startsWith("$")) return undefined;
  const segments: Segment[] = [];
  let at = 1;
  while (at < path.length) {
    SEGMENT.lastIndex = at;
    const m = SEGMENT.exec(path);
    if (!m) return undefined;
    if (m[1] !== undefined) segments.push({ kind: "name", name: m[1] });
    else if (m[2] !== undefined) segments.push({ kind: "index", index: Number(m[2]) });
    else segments.push({ kind: "wildcard" });
    at = SEGMENT.lastIndex;
  }
  return segments;
}

/** The value at `path`, `undefined` when there is none; with a wildcard, the array of every match. */
function evaluate(segments: readonly Segment[], root: unknown): unknown {
  let current: unknown[] = [root];
  let many = false;
  for (const segment of segments) {
    const next: unknown[] = [];
    for (const value of current) {
      if (segment.kind === "name") {
        if (
          value !== null &&
          typeof value === "object" &&
          !Array.isArray(value) &&
          Object.hasOwn(value, segment.name)
        ) {
          next.push((value as Record<string, unknown>)[segment.name]);
        }
      } else if (segment.kind === "index") {
        if (Array.isArray(value) && segment.index < value.length) next.push(value[segment.index]);
      } else {
        many = true;
        if (Array.isArray(value)) next.push(...value);
        else if (value !== null && typeof value === "object") next.push(...Object.values(value));
      }
    }
    current = next;
  }
  return many ? current : current[0];
}

type Part = { text: string } | { name: string; quoted: boolean };

interface CompiledTemplate {
  json: boolean;
  parts: Part[];
}

/** Pointers are into the `PUT /subscriptions/{name}` body, where the transformer is `/inputTransformer`. */
const invalid = (relative: string, message: string) => {
  const pointer = `/inputTransformer${relative}`;
  return validationFailed(`Invalid subscription: ${pointer} ${message}.`, {
    pointer,
    errors: [{ pointer, message }],
  });
};

/**
 * Splits a template into text and placeholders. A template that starts with `{` or `[` is a JSON template
 * (AWS: "if InputTemplate is a JSON object"): each placeholder is either inside a string (quoted) or a
 * whole JSON value. Any other template is text.
 */
function compileTemplate(template: string, known: (name: string) => boolean): CompiledTemplate {
  const json = /^\s*[[{]/.test(template);
  const parts: Part[] = [];
  let text = "";
  let inString = false;
  let stringHasPlaceholder = false;
  for (let i = 0; i < template.length; ) {
    const c = template[i]!;
    if (c === "<") {
      PLACEHOLDER.lastIndex = i;
      const m = PLACEHOLDER.exec(template);
      if (m) {
        const name = m[1]!;
        if (name === "aws.events.rule-arn") {
          throw invalid(
            "/inputTemplate",
            "uses <aws.events.rule-arn>: subscriptions have no ARN, use <aws.events.rule-name>",
          );
        }
        if (!known(name)) {
          throw invalid(
            "/inputTemplate",
            `uses <${name}>, which is neither a key of inputPathsMap nor a predefined variable`,
          );
        }
        const quoted = json && inString;
        if (WHOLE_EVENT.has(name) && (!json || quoted)) {
          throw invalid(
            "/inputTemplate",
            `may use <${name}> only as a JSON value, outside quotes, in a JSON template (its content is not escaped)`,
          );
        }
        if (text) parts.push({ text });
        text = "";
        parts.push({ name, quoted });
        if (quoted) stringHasPlaceholder = true;
        i = PLACEHOLDER.lastIndex;
        continue;
      }
    }
    text += c;
    i++;
    if (!json) continue;
    if (inString && c === "\\") {
      // An escape: the next character is part of the string whatever it is.
      if (i < template.length) text += template[i++];
    } else if (c === '"') {
      inString = !inString;
      if (!inString && stringHasPlaceholder && /^\s*:/.test(template.slice(i))) {
        throw invalid(
          "/inputTemplate",
          "uses a placeholder in an object key, which AWS does not allow either",
        );
      }
      if (!inString) stringHasPlaceholder = false;
    }
  }
  if (text) parts.push({ text });
  return { json, parts };
}

/** What a filled-in template needs to know about one event. */
export interface TransformInput {
  /** The CloudEvent, parsed. */
  event: Record<string, unknown>;
  /** The same CloudEvent as JSON text (already safe for SQS). */
  eventJson: string;
  /** When it was appended. */
  ingestionTime: Date;
  subscriptionName: string;
}

/** Characters SQS refuses in a message body (besides lone surrogates, which Postgres never stores). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: these control characters are what SQS refuses.
const SQS_REFUSED_TEXT = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g;

/**
 * Compiles a (validated) transformer into the function that builds each message body. JSON templates
 * produce JSON (placeholder values escaped as JSON), text templates the text with values inserted
 * (strings as they are, anything else as JSON, a missing value as nothing).
 */
export function compileInputTransformer(transformer: InputTransformer): (input: TransformInput) => string {
  const paths = new Map(
    Object.entries(transformer.inputPathsMap).map(([key, path]) => [key, parsePath(path)!] as const),
  );
  const { json, parts } = compileTemplate(
    transformer.inputTemplate,
    (name) => paths.has(name) || PREDEFINED.has(name),
  );
  return (input) => {
    const variable = (name: string): unknown => {
      switch (name) {
        case "aws.events.rule-name":
          return input.subscriptionName;
        case "aws.events.event.ingestion-time":
          return input.ingestionTime.toISOString();
        default:
          return evaluate(paths.get(name)!, input.event);
      }
    };
    let out = "";
    for (const part of parts) {
      // A template may repeat the whole event hundreds of times: stop once the body is too long for SQS
      // anyway (UTF-8 never has fewer bytes than UTF-16 units), so a page never builds gigabytes. SQS then
      // refuses the message and it is parked with that reason, like any other body it refuses.
      if (out.length > limits.maxSqsMessageBytes) break;
      if ("text" in part) {
        out += part.text;
      } else if (part.name === "aws.events.event.json") {
        out += input.eventJson;
      } else if (part.name === "aws.events.event") {
        const { data: _data, ...envelope } = input.event;
        out += JSON.stringify(envelope);
      } else {
        const value = variable(part.name);
        if (!json) {
          out += value === undefined ? "" : typeof value === "string" ? value : JSON.stringify(value);
        } else if (part.quoted) {
          const text = value === undefined ? "" : typeof value === "string" ? value : JSON.stringify(value);
          out += JSON.stringify(text).slice(1, -1);
        } else {
          out += value === undefined ? "null" : JSON.stringify(value);
        }
      }
    }
    // JSON can say any character with an escape; plain text cannot, so what SQS refuses becomes U+FFFD.
    return json ? escapeForSqs(out) : out.replace(SQS_REFUSED_TEXT, "\uFFFD");
  };
}

/** The shape of `inputTransformer` (the rules beyond it are checked by `parseInputTransformer`). */
export const inputTransformerSchema = z.strictObject({
  inputPathsMap: z.record(z.string(), z.string()).optional(),
  inputTemplate: z.string(),
});

const transformerSchema = z.strictObject({ inputTransformer: inputTransformerSchema });

/**
 * Checks an `inputTransformer` as `PUT /subscriptions/{name}` receives it, with AWS's limits, and that
 * the template, filled in, is what it claims to be (valid JSON for a JSON template).
 * @throws {EventBusError} `VALIDATION_FAILED` naming the member and the rule.
 */
export function parseInputTransformer(value: unknown): InputTransformer {
  const input = parseWith(
    transformerSchema,
    { inputTransformer: value },
    "Invalid subscription",
  ).inputTransformer;
  const inputPathsMap = input.inputPathsMap ?? {};
  const entries = Object.entries(inputPathsMap);
  if (entries.length > MAX_INPUT_PATHS) {
    throw invalid("/inputPathsMap", `has ${entries.length} keys; the limit is ${MAX_INPUT_PATHS}`);
  }
  for (const [key, path] of entries) {
    const pointer = `/inputPathsMap/${printable(key)}`;
    if (key.length > MAX_KEY_LENGTH || !KEY.test(key)) {
      throw invalid(pointer, `is not a valid key: 1-${MAX_KEY_LENGTH} letters, digits, '_' and '-'`);
    }
    if (path.length > MAX_PATH_LENGTH || !parsePath(path)) {
      throw invalid(
        pointer,
        `'${printable(path)}' is not a supported JSON path: '$' then .name, [index], .* or [*] (at most ${MAX_PATH_LENGTH} characters), e.g. $.data.orderId`,
      );
    }
  }
  const template = input.inputTemplate;
  if (template.length === 0 || template.length > MAX_TEMPLATE_LENGTH) {
    throw invalid("/inputTemplate", `must be 1-${MAX_TEMPLATE_LENGTH} characters`);
  }
  const transformer = { inputPathsMap, inputTemplate: template };
  const compiled = compileTemplate(
    template,
    (name) => Object.hasOwn(inputPathsMap, name) || PREDEFINED.has(name),
  );
  if (compiled.json) {
    const sample = compileInputTransformer(transformer)({
      event: {},
      eventJson: "{}",
      ingestionTime: new Date(0),
      subscriptionName: "s",
    });
    try {
      JSON.parse(sample);
    } catch (error) {
      throw invalid(
        "/inputTemplate",
        `starts like JSON but is not valid JSON once its placeholders are filled in (${(error as Error).message})`,
      );
    }
  }
  return transformer;
}
