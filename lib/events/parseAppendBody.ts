import { z } from "zod";
import { EventBusError } from "../errors.ts";
import { parseJsonBody } from "../text/checkJson.ts";
import { parseWith } from "../validation.ts";
import type { ProposedEvent } from "./types.ts";

const jsonEvent = z.strictObject({
  id: z.string().optional(),
  type: z.string(),
  data: z.unknown().optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
});

/** CloudEvents 1.0 structured mode. Extension attributes are kept in the event's metadata. */
const cloudEvent = z
  .looseObject({
    specversion: z.literal("1.0"),
    id: z.string().min(1),
    source: z.string().min(1),
    type: z.string().min(1),
    datacontenttype: z.string().optional(),
    data: z.unknown().optional(),
    data_base64: z.never().optional(),
  })
  .refine(
    (ce) => ce.datacontenttype === undefined || /^application\/([\w.+-]+\+)?json\b/.test(ce.datacontenttype),
    {
      message: "must be application/json or another JSON media type (only JSON data is supported)",
      path: ["datacontenttype"],
    },
  );

type MediaType = "json" | "cloudevent" | "cloudevent-batch";

function mediaTypeOf(contentType: string | undefined): MediaType {
  const essence = contentType?.split(";", 1)[0]?.trim().toLowerCase();
  if (essence === "application/json") return "json";
  if (essence === "application/cloudevents+json") return "cloudevent";
  if (essence === "application/cloudevents-batch+json") return "cloudevent-batch";
  throw new EventBusError(
    "UNSUPPORTED_MEDIA_TYPE",
    "Send application/json, application/cloudevents+json or application/cloudevents-batch+json.",
    { contentType: contentType ?? null },
  );
}

function fromCloudEvent(ce: z.output<typeof cloudEvent>): ProposedEvent {
  const { specversion: _v, id, type, data, datacontenttype: _c, data_base64: _b, ...attributes } = ce;
  return { id, type, data, metadata: attributes };
}

/**
 * Turns an append request body into proposed events, according to its media type: one event or an array
 * as `application/json` (`{type, data, id?, metadata?}`), or CloudEvents in structured or batch mode.
 */
export function parseAppendBody(contentType: string | undefined, body: string): ProposedEvent[] {
  const mediaType = mediaTypeOf(contentType);
  const value = parseJsonBody(body);
  switch (mediaType) {
    case "json":
      return Array.isArray(value)
        ? parseWith(z.array(jsonEvent), value, "Invalid events")
        : [parseWith(jsonEvent, value, "Invalid event")];
    case "cloudevent":
      return [fromCloudEvent(parseWith(cloudEvent, value, "Invalid CloudEvent"))];
    case "cloudevent-batch":
      return parseWith(z.array(cloudEvent), value, "Invalid CloudEvents batch").map(fromCloudEvent);
  }
}
