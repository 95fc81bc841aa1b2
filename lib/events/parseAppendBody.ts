import { z } from "zod";
import { EventBusError, validationFailed } from "../errors.ts";
import { parseJsonBody } from "../text/checkJson.ts";
import { printable } from "../text/storableText.ts";
import { parseWith } from "../validation.ts";
import type { ProposedEvent } from "./types.ts";

export const jsonEvent = z.strictObject({
  id: z.string().optional(),
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

/** Percent-decodes a binary-mode header value (HTTP binding 3.1.3.2). */
function headerValue(name: string, raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw validationFailed(`Invalid CloudEvent: header '${name}' is not valid percent-encoding.`, {
      header: name,
    });
  }
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
    attributes[name] = headerValue(header, raw);
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
    data: parseJsonBody(body),
    attributes: { ...rest, datacontenttype: contentType.trim() },
  };
}

/**
 * Turns an append request into proposed events, according to the CloudEvents HTTP binding's content modes:
 * plain `application/json` (one `{type, data, id?, metadata?}` or an array), a CloudEvent in structured
 * mode (`application/cloudevents+json`), a batch (`application/cloudevents-batch+json`, an array), or binary
 * mode (`ce-*` headers, the body being the data). Only JSON data is accepted; anything else is a 415.
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
