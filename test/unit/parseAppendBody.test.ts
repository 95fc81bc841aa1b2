import { describe, expect, it } from "vitest";
import { parseAppendBody } from "../../lib/events/parseAppendBody.ts";

describe("parseAppendBody", () => {
  it("reads one JSON event or an array", () => {
    expect(parseAppendBody("application/json", '{"type":"A","data":{"x":1}}')).toEqual([
      { type: "A", data: { x: 1 } },
    ]);
    expect(
      parseAppendBody("application/json; charset=utf-8", '[{"type":"A"},{"type":"B","id":"b"}]'),
    ).toEqual([{ type: "A" }, { type: "B", id: "b" }]);
  });

  it("maps CloudEvents attributes into metadata", () => {
    const [event] = parseAppendBody(
      "application/cloudevents+json",
      JSON.stringify({
        specversion: "1.0",
        id: "1",
        source: "/s",
        type: "T",
        subject: "x",
        data: 5,
        traceparent: "t",
      }),
    );
    expect(event).toEqual({
      id: "1",
      type: "T",
      data: 5,
      metadata: { source: "/s", subject: "x", traceparent: "t" },
    });
  });

  it("names the failing member with a JSON pointer", () => {
    expect(() => parseAppendBody("application/json", '[{"type":"A"},{"type":1}]')).toThrowError(
      expect.objectContaining({
        code: "VALIDATION_FAILED",
        details: { errors: [expect.objectContaining({ pointer: "/1/type" })] },
      }),
    );
  });

  it.each([
    ["a wrong specversion", { specversion: "0.3", id: "1", source: "/s", type: "T" }],
    ["binary data", { specversion: "1.0", id: "1", source: "/s", type: "T", data_base64: "AAAA" }],
    [
      "non-JSON data",
      { specversion: "1.0", id: "1", source: "/s", type: "T", datacontenttype: "text/plain", data: "x" },
    ],
  ])("refuses a CloudEvent with %s", (_name, body) => {
    expect(() => parseAppendBody("application/cloudevents+json", JSON.stringify(body))).toThrowError(
      expect.objectContaining({ code: "VALIDATION_FAILED" }),
    );
  });

  it("refuses other media types with 415", () => {
    for (const type of [undefined, "text/plain", "application/xml", "application/jsonx"]) {
      expect(() => parseAppendBody(type, "{}")).toThrowError(
        expect.objectContaining({ code: "UNSUPPORTED_MEDIA_TYPE" }),
      );
    }
  });
});
