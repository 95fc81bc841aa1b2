import { describe, expect, it } from "vitest";
import { z } from "zod";
import { eventTypeRule } from "../../lib/events/validateEvents.ts";
import { parseQueryString } from "../../lib/http/queryString.ts";
import { findJsonProblem, jsonTextDepthExceeds, parseJsonBody } from "../../lib/text/checkJson.ts";
import { printable, unstorableTextRule } from "../../lib/text/storableText.ts";
import { parseWith } from "../../lib/validation.ts";

const deep = (depth: number): unknown => {
  let value: unknown = "leaf";
  for (let i = 0; i < depth; i++) value = { a: value };
  return value;
};

describe("unstorableTextRule", () => {
  it.each([
    ["plain text", "hello", undefined],
    ["a surrogate pair", "\u{1F600}", undefined],
    ["U+FFFF (stored fine; SQS escaping is the listener's job)", "\uffff", undefined],
    ["NUL", "a\u0000", "must not contain U+0000 (NUL, at index 1)"],
    [
      "a lone high surrogate",
      "\ud800a",
      "must not contain a lone surrogate (U+D800 at index 0 is not half of a pair)",
    ],
    [
      "a lone low surrogate",
      "a\udc00",
      "must not contain a lone surrogate (U+DC00 at index 1 is not half of a pair)",
    ],
    [
      "a reversed pair",
      "\ude00\ud83d",
      "must not contain a lone surrogate (U+DE00 at index 0 is not half of a pair)",
    ],
  ])("%s", (_name, text, rule) => {
    expect(unstorableTextRule(text)).toBe(rule);
  });

  it("quotes text back without control characters or lone surrogates", () => {
    expect(printable("a\u0000\ud800\u{1F600}")).toBe("a\\u0000\\uD800\u{1F600}");
  });
});

describe("findJsonProblem", () => {
  const options = { pointer: "/0/data", maxDepth: 64 };

  it("walks keys and values in document order with escaped JSON pointers", () => {
    expect(findJsonProblem({ ok: 1, "a/b~": ["x", "y\u0000"], z: "\u0000" }, options)).toEqual({
      pointer: "/0/data/a~1b~0/1",
      message: "must not contain U+0000 (NUL, at index 1)",
    });
    expect(findJsonProblem({ "bad\ud800": 1 }, options)).toEqual({
      pointer: "/0/data/bad\\uD800",
      message:
        "has a member name that must not contain a lone surrogate (U+D800 at index 3 is not half of a pair)",
    });
  });

  it("refuses numbers JSON cannot carry", () => {
    expect(findJsonProblem({ n: Number.POSITIVE_INFINITY }, options)?.message).toBe(
      "must be a finite number",
    );
  });

  it("counts nesting and stops at the limit, iteratively even 100,000 deep", () => {
    expect(findJsonProblem(deep(64), options)).toBeUndefined();
    expect(findJsonProblem(deep(65), options)).toEqual({
      pointer: `/0/data${"/a".repeat(64)}`,
      message: "nests deeper than the limit of 64 levels of objects and arrays",
    });
    expect(findJsonProblem(deep(100_000), options)?.message).toMatch(/nests deeper/);
  });
});

describe("JSON bodies", () => {
  it("measures nesting without parsing, ignoring brackets inside strings", () => {
    expect(jsonTextDepthExceeds('{"a":[[1]]}', 3)).toBe(false);
    expect(jsonTextDepthExceeds('{"a":[[[1]]]}', 3)).toBe(true);
    expect(jsonTextDepthExceeds('{"a":"[[[[[\\"[[[["}', 1)).toBe(false);
  });

  it("refuses a body nested 5,000 deep before parsing it, and bad JSON", () => {
    expect(() => parseJsonBody(`${"[".repeat(5000)}${"]".repeat(5000)}`)).toThrow(
      /nests deeper than the limit of 128 levels/,
    );
    expect(() => parseJsonBody("{nope")).toThrow("The request body is not valid JSON.");
    expect(parseJsonBody('{"a":[1]}')).toEqual({ a: [1] });
  });

  it("refuses numbers too large for a double rather than storing them as null", () => {
    expect(() => parseJsonBody('[{"type":"T","data":{"n":[1,-1E+999]}}]')).toThrow(
      "Invalid request body: /0/data/n/1 must be a finite number.",
    );
    expect(() => parseJsonBody(`{"n":${"9".repeat(400)}}`)).toThrow("/n must be a finite number");
    expect(parseJsonBody('{"n":1e300,"s":"1e999"}')).toEqual({ n: 1e300, s: "1e999" });
  });
});

describe("eventTypeRule", () => {
  it.each([
    ["OrderPlaced", undefined],
    ["com.shop.Order Placed \u{1F600}", undefined],
    ["x".repeat(200), undefined],
    ["\u{1F600}".repeat(200), undefined],
    ["x".repeat(201), "must be at most 200 characters"],
    ["", "must not be empty"],
    [" Order", "must not start with whitespace"],
    ["Order\ufffe", /must not contain \uFFFE \(at index 5\): only characters SQS message attributes accept/],
    ["Order\r\n", /must not contain \\u000D/],
    ["A\u0000", "must not contain U+0000 (NUL, at index 1)"],
  ])("%j", (type, rule) => {
    if (rule instanceof RegExp) expect(eventTypeRule(type)).toMatch(rule);
    else expect(eventTypeRule(type)).toBe(rule);
  });
});

describe("parseQueryString", () => {
  it("keeps repeated parameters apart and commas inside values", () => {
    const params = parseQueryString({
      rawQueryString: "type=A&type=B%2CC&empty=&flag&sp=a+b%20c",
      queryStringParameters: { type: "A,B,C" },
    });
    expect(Object.fromEntries(params)).toEqual({
      type: ["A", "B,C"],
      empty: [""],
      flag: [""],
      sp: ["a b c"],
    });
  });

  it("falls back to queryStringParameters without a raw query string", () => {
    expect(Object.fromEntries(parseQueryString({ queryStringParameters: { limit: "5" } }))).toEqual({
      limit: ["5"],
    });
  });

  it("names a parameter that is not valid percent-encoding", () => {
    expect(() => parseQueryString({ rawQueryString: "after=%E0%A4%A" })).toThrow(
      "Query parameter 'after' is not valid percent-encoding.",
    );
  });
});

describe("parseWith", () => {
  const schema = z.strictObject({
    kind: z.enum(["a", "b"]),
    n: z.number().int().min(1).max(9).optional(),
    name: z.string().min(2).optional(),
    when: z.union([z.literal("now"), z.number()]).optional(),
  });

  it.each([
    [{}, 'Invalid thing: /kind is required and must be one of "a", "b".'],
    [{ kind: "c" }, 'Invalid thing: /kind must be one of "a", "b".'],
    [{ kind: "a", n: 1.5 }, "Invalid thing: /n must be an integer (got a fraction)."],
    [{ kind: "a", n: 10 }, "Invalid thing: /n must be <= 9."],
    [{ kind: "a", name: "x" }, "Invalid thing: /name must have at least 2 characters."],
    [{ kind: "a", when: "later" }, 'Invalid thing: /when must be "now" or a number.'],
    [{ kind: "a", x: 1, y: 2 }, 'Invalid thing: the value has unknown members "x", "y".'],
    ["text", "Invalid thing: the value must be an object (got a string)."],
  ])("%j", (value, message) => {
    expect(() => parseWith(schema, value, "Invalid thing")).toThrow(message);
  });

  it("lists every problem with its pointer", () => {
    try {
      parseWith(schema, { kind: 1, n: 0 }, "Invalid thing");
      expect.unreachable();
    } catch (error) {
      expect((error as { details: unknown }).details).toEqual({
        errors: [
          { pointer: "/kind", message: 'must be one of "a", "b"' },
          { pointer: "/n", message: "must be >= 1" },
        ],
      });
    }
  });
});
