import { describe, expect, it } from "vitest";
import { parseAppendBody } from "../../lib/events/parseAppendBody.ts";
import { validateEvents } from "../../lib/events/validateEvents.ts";

const json = { "content-type": "application/json" };
const structured = { "content-type": "application/cloudevents+json" };

describe("parseAppendBody", () => {
  it("reads one JSON event or an array", () => {
    expect(parseAppendBody(json, '{"type":"A","data":{"x":1}}')).toEqual([{ type: "A", data: { x: 1 } }]);
    expect(
      parseAppendBody(
        { "content-type": "application/json; charset=utf-8" },
        '[{"type":"A"},{"type":"B","id":"b"}]',
      ),
    ).toEqual([{ type: "A" }, { type: "B", id: "b" }]);
  });

  it("keeps a structured CloudEvent's attributes as attributes, a null one as absent", () => {
    const [event] = parseAppendBody(
      structured,
      JSON.stringify({
        specversion: "1.0",
        id: "1",
        source: "/s",
        type: "T",
        subject: "x",
        data: 5,
        traceparent: "t",
        dataschema: null,
      }),
    );
    expect(event).toEqual({
      id: "1",
      type: "T",
      data: 5,
      attributes: { source: "/s", subject: "x", traceparent: "t" },
    });
  });

  it("reads binary mode: ce-* headers (percent-decoded), the body as data, Content-Type as datacontenttype", () => {
    const [event] = parseAppendBody(
      {
        "content-type": "application/json",
        "ce-specversion": "1.0",
        "ce-id": "b-1",
        "ce-source": "urn:shop",
        "ce-type": "com.shop.Placed",
        "ce-subject": "caf%C3%A9 %25",
        "ce-tenant": "acme",
      },
      '{"n":1}',
    );
    expect(event).toEqual({
      id: "b-1",
      type: "com.shop.Placed",
      data: { n: 1 },
      attributes: {
        source: "urn:shop",
        subject: "café %",
        tenant: "acme",
        datacontenttype: "application/json",
      },
    });
  });

  it("reads a binary-mode event without a body as one without data", () => {
    const [event] = parseAppendBody(
      { "ce-specversion": "1.0", "ce-id": "b-2", "ce-source": "/s", "ce-type": "T" },
      "",
    );
    expect(event).toEqual({ id: "b-2", type: "T", attributes: { source: "/s" } });
  });

  it.each([
    ["a missing ce-source", { "ce-source": undefined }, "ce-source"],
    ["a wrong ce-specversion", { "ce-specversion": "0.3" }, "ce-specversion"],
    ["ce-datacontenttype", { "ce-datacontenttype": "application/json" }, "ce-datacontenttype"],
  ])("refuses binary mode with %s, naming the header", (_name, change, header) => {
    const headers = {
      "content-type": "application/json",
      "ce-specversion": "1.0",
      "ce-id": "1",
      "ce-source": "/s",
      "ce-type": "T",
      ...change,
    };
    expect(() => parseAppendBody(headers, "{}")).toThrowError(
      expect.objectContaining({ code: "VALIDATION_FAILED", details: expect.objectContaining({ header }) }),
    );
  });

  it("decodes valid percent-escapes in binary-mode headers and keeps the rest as sent", () => {
    const headers = {
      "content-type": "application/json",
      "ce-specversion": "1.0",
      "ce-id": "1",
      "ce-source": "/s",
      "ce-type": "T",
      "ce-subject": "%E0%A4%A 100% caf%C3%A9",
    };
    expect(parseAppendBody(headers, "{}")[0]!.attributes).toMatchObject({ subject: "%E0%A4%A 100% café" });
  });

  it("keeps a ce-__proto__ header as an attribute, which validation then refuses by name", () => {
    const events = parseAppendBody(
      { "ce-specversion": "1.0", "ce-id": "1", "ce-source": "/s", "ce-type": "T", "ce-__proto__": "x" },
      "",
    );
    expect(Object.keys(events[0]!.attributes!)).toContain("__proto__");
    expect(() => validateEvents("s-1", events)).toThrowError(
      expect.objectContaining({
        code: "VALIDATION_FAILED",
        details: expect.objectContaining({ pointer: "/0/__proto__" }),
      }),
    );
  });

  it("refuses non-JSON data in binary mode with 415, naming Content-Type", () => {
    const headers = {
      "content-type": "text/plain",
      "ce-specversion": "1.0",
      "ce-id": "1",
      "ce-source": "/s",
      "ce-type": "T",
    };
    expect(() => parseAppendBody(headers, "hello")).toThrowError(
      expect.objectContaining({
        code: "UNSUPPORTED_MEDIA_TYPE",
        message: expect.stringMatching(/Content-Type 'text\/plain' is not JSON.*JSON data only/),
      }),
    );
  });

  it("names the failing member with a JSON pointer", () => {
    expect(() => parseAppendBody(json, '[{"type":"A"},{"type":1}]')).toThrowError(
      expect.objectContaining({
        code: "VALIDATION_FAILED",
        details: { errors: [expect.objectContaining({ pointer: "/1/type" })] },
      }),
    );
    const batch = [
      { specversion: "1.0", id: "1", source: "/s", type: "T" },
      { specversion: "1.0", id: "2", type: "T" },
    ];
    expect(() =>
      parseAppendBody({ "content-type": "application/cloudevents-batch+json" }, JSON.stringify(batch)),
    ).toThrowError(expect.objectContaining({ message: "Invalid CloudEvent: /1/source is required." }));
  });

  it("refuses a CloudEvent with a wrong specversion", () => {
    const body = { specversion: "0.3", id: "1", source: "/s", type: "T" };
    expect(() => parseAppendBody(structured, JSON.stringify(body))).toThrowError(
      expect.objectContaining({
        code: "VALIDATION_FAILED",
        message: expect.stringContaining("/specversion"),
      }),
    );
  });

  it.each([
    ["binary data", { data_base64: "AAAA" }, "/data_base64"],
    ["non-JSON data", { datacontenttype: "text/plain", data: "x" }, "/datacontenttype"],
  ])("refuses a CloudEvent with %s with 415, naming the attribute", (_name, change, pointer) => {
    const body = { specversion: "1.0", id: "1", source: "/s", type: "T", ...change };
    expect(() => parseAppendBody(structured, JSON.stringify(body))).toThrowError(
      expect.objectContaining({ code: "UNSUPPORTED_MEDIA_TYPE", details: { pointer } }),
    );
  });

  it("refuses other media types with 415", () => {
    for (const type of [undefined, "text/plain", "application/xml", "application/jsonx"]) {
      expect(() => parseAppendBody(type === undefined ? {} : { "content-type": type }, "{}")).toThrowError(
        expect.objectContaining({ code: "UNSUPPORTED_MEDIA_TYPE" }),
      );
    }
  });
});
