import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { EventBusError } from "../../lib/errors.ts";
import { toCloudEvent } from "../../lib/events/cloudEvent.ts";
import { validateEvents } from "../../lib/events/validateEvents.ts";
import { cloudEventJson } from "../../lib/listener/cloudEventJson.ts";
import { parseStrict } from "./conformance.ts";

/** Values that are mostly valid for an attribute and sometimes not, as producers send them. */
const uriLike = fc.oneof(
  { arbitrary: fc.webUrl({ withQueryParameters: true, withFragments: true }), weight: 6 },
  {
    arbitrary: fc.constantFrom("urn:shop:orders", "/orders/1", "orders", "mailto:a@b.c", "http://[::1]:80/x"),
    weight: 2,
  },
  { arbitrary: fc.string(), weight: 1 },
  { arbitrary: fc.constantFrom("a b", "%zz", 'a"b', "", "x#y#z", "http://a/\u{1F600}"), weight: 1 },
);
const timeLike = fc.oneof(
  {
    arbitrary: fc
      .date({
        noInvalidDate: true,
        min: new Date("0001-01-01T00:00:00Z"),
        max: new Date("9999-12-31T23:59:59Z"),
      })
      .map((d) => d.toISOString()),
    weight: 6,
  },
  {
    arbitrary: fc.constantFrom(
      "2024-02-29T23:59:59+14:00",
      "2024-01-01t00:00:00z",
      "2024-01-01T00:00:00.123456789-00:30",
    ),
    weight: 2,
  },
  { arbitrary: fc.string(), weight: 1 },
  {
    arbitrary: fc.constantFrom(
      "2023-02-29T00:00:00Z",
      "2024-01-01 00:00:00Z",
      "2016-12-31T23:59:60Z",
      "2024-13-01T00:00:00Z",
      "2024-01-01T24:00:00Z",
      "2024-01-01T00:00:00",
    ),
    weight: 1,
  },
);
const extensionName = fc.oneof(
  { arbitrary: fc.stringMatching(/^[a-z0-9]{1,20}$/), weight: 8 },
  { arbitrary: fc.string({ maxLength: 24 }), weight: 1 },
);
const extensionValue = fc.oneof(
  { arbitrary: fc.string(), weight: 3 },
  { arbitrary: fc.boolean(), weight: 2 },
  { arbitrary: fc.integer(), weight: 2 },
  { arbitrary: fc.integer({ min: -(2 ** 40), max: 2 ** 40 }), weight: 1 },
  { arbitrary: fc.double(), weight: 1 },
  { arbitrary: fc.object({ maxDepth: 1 }), weight: 1 },
  { arbitrary: fc.constant(null), weight: 1 },
);
const attributes = fc.record(
  {
    source: uriLike,
    time: timeLike,
    subject: fc.string({ minLength: 1 }),
    dataschema: uriLike,
    datacontenttype: fc.constantFrom(
      "application/json",
      "application/vnd.x+json; charset=utf-8",
      "text/plain",
    ),
    extensions: fc.dictionary(extensionName, extensionValue, { maxKeys: 3 }),
  },
  { requiredKeys: [] },
);

describe("producer attributes", () => {
  it("are either refused with a 400 naming one, or accepted and emitted so that the SDK parses them strictly, unchanged", () => {
    let accepted = 0;
    let refused = 0;
    fc.assert(
      fc.property(attributes, fc.jsonValue(), ({ extensions, ...core }, data) => {
        const sent: Record<string, unknown> = { ...core, ...extensions };
        let valid: ReturnType<typeof validateEvents>;
        try {
          valid = validateEvents("stream-1", [{ id: "e-1", type: "T", data, attributes: sent }]);
        } catch (error) {
          expect(error).toBeInstanceOf(EventBusError);
          expect((error as EventBusError).code).toBe("VALIDATION_FAILED");
          expect((error as EventBusError).details?.pointer).toMatch(/^\/0\//);
          refused++;
          return;
        }
        accepted++;
        const stored = JSON.parse(valid[0]!.json).metadata;
        const recorded = {
          id: "e-1",
          streamId: "stream-1",
          version: 1,
          position: 4_000_000_000,
          type: "T",
          // As it comes back from Postgres: JSON (so -0 is 0).
          data: JSON.parse(JSON.stringify(valid[0]!.data)),
          attributes: stored,
          createdAt: new Date(0),
        };
        const emitted = toCloudEvent(recorded, "urn:bus");
        parseStrict(emitted as Record<string, unknown>);
        for (const [name, value] of Object.entries(sent)) {
          // Compared as JSON carries it: an integer -0 is sent (and stored) as 0.
          if (value !== null) expect(emitted[name]).toEqual(JSON.parse(JSON.stringify(value)));
        }
        // The listener's text form is the same event.
        const forwarded = cloudEventJson(
          {
            position: recorded.position,
            streamId: recorded.streamId,
            version: 1,
            id: "e-1",
            type: "T",
            createdAt: recorded.createdAt,
            dataJson: JSON.stringify(recorded.data),
            metadataJson: stored === null ? null : JSON.stringify(stored),
          },
          "urn:bus",
        );
        expect(JSON.parse(forwarded)).toEqual(emitted);
      }),
      { numRuns: 2000 },
    );
    // Both sides of the property were exercised.
    expect(accepted).toBeGreaterThan(100);
    expect(refused).toBeGreaterThan(100);
  });
});
