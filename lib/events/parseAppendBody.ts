import { z } from "zod";
import { EventBusError, validationFailed } from "../errors.ts";
import { parseJsonBody } from "../text/checkJson.ts";
import { printable } from "../text/storableText.ts";
import { parseWith } from "../validation.ts";
import type { ProposedEvent } from "./types.ts";

export const jsonEvent = z.strictObject({
  id: z
    .string()
    .optional()
    .describe(
      "Your id, which makes a retry idempotent. Without one the bus assigns a UUIDv7 that carries the event's position, returned in the result.",
    ),
  type: z.string(),
  data: z.unknown().optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
});

/** Request headers, names in lower case. */
export type AppendHeaders = Readonly<Record<string, string | undefined>>;

type MediaType = "json" | "cloudevent" | "cloudevent-batch" | "binary";

/** What a JSON `datacontenttype` looks like: `application/json` or a `+json` suffix, parameters allowed. */
const JSON_MEDIA_TYPE = /^application\/([\w.+-]+\+)?json\s*(;.*)?$/i;

const invalid = (pointer: string, message: string) =>
  validationFailed(`Invalid CloudEvent: ${pointer} ${message}.`, { pointer, errors: [{ pointer, message }] });

const unsupportedData = (what: string, detail: Record<string, unknown>) =>
  new EventBusError(
    "UNSUPPORTED_MEDIA_TYPE",
    `${what}: the bus stores JSON data only (datacontenttype application/json or another */*+json type).`,
    detail,
  );

/**
 * The CloudEvents HTTP binding's content modes, in its order: a `application/cloudevents(-batch)+json`
 * body is structured (or batch) mode whatever the headers say; otherwise a `ce-specversion` header means
 * binary mode; otherwise the body is plain JSON.
 */
function mediaTypeOf(headers: AppendHeaders): MediaType {
  const contentType = headers["content-type"];
  const essence = contentType?.split(";", 1)[0]?.trim().toLowerCase();
  if (essence === "application/cloudevents+json") return "cloudevent";
  if (essence === "application/cloudevents-batch+json") return "cloudevent-batch";
  if (headers["ce-specversion"] !== undefined) return "binary";
  if (essence === "application/json") return "json";
  throw new EventBusError(
    "UNSUPPORTED_MEDIA_TYPE",
    "Send application/json, application/cloudevents+json, application/cloudevents-batch+json, or a CloudEvent in binary mode (ce-* headers).",
    { contentType: contentType ?? null },
  );
}

/**
 * One event of structured or batch mode (JSON event format): the required attributes must be there,
 * `data` must be JSON. Names and values of the other attributes are checked by `validateEvents`.
 */
function fromStructured(value: unknown, pointer: string): ProposedEvent {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw invalid(pointer || "/", "must be a CloudEvent (a JSON object)");
  }
  const { specversion, id, type, data, data_base64, ...rest } = value as Record<string, unknown>;
  if (specversion !== "1.0") throw invalid(`${pointer}/specversion`, 'must be "1.0"');
  if (typeof id !== "string" || id.length === 0) throw invalid(`${pointer}/id`, "must be a non-empty string");
  if (rest.source === undefined || rest.source === null) throw invalid(`${pointer}/source`, "is required");
  if (typeof type !== "string") throw invalid(`${pointer}/type`, "must be a string");
  if (data_base64 !== undefined && data_base64 !== null) {
    throw unsupportedData(`${pointer}/data_base64 (binary data) is not accepted`, {
      pointer: `${pointer}/data_base64`,
    });
  }
  const contentType = rest.datacontenttype;
  if (typeof contentType === "string" && !JSON_MEDIA_TYPE.test(contentType)) {
    throw unsupportedData(`${pointer}/datacontenttype '${printable(contentType)}' is not JSON`, {
      pointer: `${pointer}/datacontenttype`,
    });
  }
  // The JSON format treats a null attribute as absent.
  const attributes = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== null));
  return { id, type, ...(data === undefined ? {} : { data }), attributes };
}

/** A run of percent-escapes: decoded together, since one UTF-8 character spans several. */
const PERCENT_ESCAPES = /(?:%[0-9A-Fa-f]{2})+/g;

/**
 * Percent-decodes a binary-mode header value (HTTP binding 3.1.3.2), leniently: a `%` that does not start
 * a valid escape, or escapes that do not form UTF-8, stay as they are. Senders do not all encode (the
 * official JavaScript SDK sends extension values verbatim, so `note: "100%"` arrives as `100%`), and a
 * value refused here would be an event refused for its header spelling.
 */
function headerValue(raw: string): string {
  if (!raw.includes("%")) return raw;
  return raw.replace(PERCENT_ESCAPES, (run) => {
    try {
      return decodeURIComponent(run);
    } catch {
      return decodeEscapesLeniently(run);
    }
  });
}

/** Decodes the escapes of `run` that form UTF-8 characters (1 to 4 bytes each); keeps the others. */
function decodeEscapesLeniently(run: string): string {
  let out = "";
  let i = 0;
  outer: while (i < run.length) {
    for (let bytes = 4; bytes >= 1; bytes--) {
      const part = run.slice(i, i + 3 * bytes);
      if (part.length < 3 * bytes) continue;
      try {
        out += decodeURIComponent(part);
        i += 3 * bytes;
        continue outer;
      } catch {}
    }
    out += run.slice(i, i + 3);
    i += 3;
  }
  return out;
}

/**
 * The data of a binary-mode body under a JSON content type. JSON text is parsed. Text that is not JSON and
 * does not start like a JSON object, array or string is a string: the official SDK's `HTTP.binary` sends
 * string data unquoted (`data: "hello"` goes out as the body `hello` under `application/json`), and its
 * receiver reads such a body back as that string. A body that starts like JSON must be JSON (the SDK's
 * receiver refuses it too).
 */
function binaryData(body: string): unknown {
  const start = body.trimStart()[0];
  if (start !== "{" && start !== "[" && start !== '"') {
    try {
      JSON.parse(body);
    } catch {
      return body;
    }
  }
  return parseJsonBody(body);
}

/**
 * Binary mode: attributes in `ce-*` headers, the body is the data and its Content-Type the
 * `datacontenttype`. Header values are strings (the binding carries no other type).
 */
function fromBinary(headers: AppendHeaders, body: string): ProposedEvent {
  // No prototype: a `ce-__proto__` header is an attribute name like any other (and is refused as one).
  const attributes: Record<string, string> = Object.create(null);
  for (const [header, raw] of Object.entries(headers)) {
    if (!header.startsWith("ce-") || raw === undefined) continue;
    const name = header.slice(3);
    if (name === "datacontenttype") {
      throw validationFailed(
        "Invalid CloudEvent: in binary mode datacontenttype is the Content-Type header, not ce-datacontenttype.",
        { header },
      );
    }
    if (name === "data" || name === "data_base64") {
      throw validationFailed(
        `Invalid CloudEvent: in binary mode the body is the data, not header '${header}'.`,
        {
          header,
        },
      );
    }
    attributes[name] = headerValue(raw);
  }
  const { specversion, id, type, ...rest } = attributes;
  const missing = (name: string) =>
    validationFailed(`Invalid CloudEvent: header 'ce-${name}' is required in binary mode.`, {
      header: `ce-${name}`,
    });
  if (specversion !== "1.0") {
    throw validationFailed("Invalid CloudEvent: header 'ce-specversion' must be \"1.0\".", {
      header: "ce-specversion",
    });
  }
  if (!id) throw missing("id");
  if (!rest.source) throw missing("source");
  if (type === undefined) throw missing("type");
  const contentType = headers["content-type"];
  if (body.length === 0) {
    return { id, type, attributes: rest };
  }
  if (contentType === undefined || !JSON_MEDIA_TYPE.test(contentType.trim())) {
    throw unsupportedData(`Content-Type '${printable(contentType ?? "")}' is not JSON`, {
      header: "content-type",
      contentType: contentType ?? null,
    });
  }
  return {
    id,
    type,
    data: binaryData(body),
    attributes: { ...rest, datacontenttype: contentType.trim() },
  };
}

/**
 * Turns an append request into proposed events, according to the CloudEvents HTTP binding's content modes:
 * plain `application/json` (one `{type, data, id?, metadata?}` or an array), a CloudEvent in structured
 * mode (`application/cloudevents+json`), a batch (`application/cloudevents-batch+json`, an array), or binary
 * mode (`ce-*` headers, the body being the data). Only JSON data is accepted; anything else is a 415.
 * A batch may be empty (the JSON batch format allows `[]`): the result is then no event.
 *
 * @param headers the request headers, names in lower case.
 * @throws {EventBusError} `VALIDATION_FAILED` or `UNSUPPORTED_MEDIA_TYPE`.
 */
export function parseAppendBody(headers: AppendHeaders, body: string): ProposedEvent[] {
  const mediaType = mediaTypeOf(headers);
  if (mediaType === "binary") return [fromBinary(headers, body)];
  const value = parseJsonBody(body);
  switch (mediaType) {
    case "json":
      // An empty batch is a CloudEvents batch-mode notion; a plain JSON append names at least one event.
      if (Array.isArray(value) && value.length === 0)
        throw validationFailed("At least one event is required.");
      return Array.isArray(value)
        ? parseWith(z.array(jsonEvent), value, "Invalid events")
        : [parseWith(jsonEvent, value, "Invalid event")];
    case "cloudevent":
      return [fromStructured(value, "")];
    case "cloudevent-batch":
      if (!Array.isArray(value)) throw invalid("/", "must be an array of CloudEvents (batch mode)");
      return value.map((event, index) => fromStructured(event, `/${index}`));
  }
}
