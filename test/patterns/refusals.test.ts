import { describe, expect, it } from "vitest";
import { parseFilterParameter } from "../../lib/patterns/parseFilterParameter.ts";
import { validateEventPattern } from "../../lib/subscriptions/eventPattern.ts";

/** The message a client reads: the JSON pointer of the offending place, then the operator and its rule. */
function refusal(pattern: unknown): string {
  try {
    validateEventPattern(pattern);
  } catch (error) {
    expect(error).toMatchObject({ code: "VALIDATION_FAILED" });
    return (error as Error).message;
  }
  throw new Error("accepted");
}

describe("pattern refusals name the JSON pointer and the rule", () => {
  it.each([
    [
      "a CIDR without mask bits",
      { data: { ip: [{ cidr: "10.0.0.0" }] } },
      "/data/ip/0/cidr cidr must be an address and a mask length",
    ],
    [
      "a CIDR on something that is not an address",
      { data: { ip: [{ cidr: "hello/8" }] } },
      "/data/ip/0/cidr cidr must start with an IPv4 or IPv6 address",
    ],
    [
      "an IPv4 mask of 33 bits",
      { ip: [{ cidr: "10.0.0.0/33" }] },
      "/ip/0/cidr cidr mask bits must be at most 31 for IPv4",
    ],
    [
      "a wildcard with two stars in a row",
      { data: { path: [{ wildcard: "a**b" }] } },
      "/data/path/0/wildcard wildcard has two consecutive * at index 2",
    ],
    [
      "a wildcard escaping a letter",
      { path: [{ wildcard: "a\\b" }] },
      "/path/0/wildcard wildcard has an invalid escape at index 1",
    ],
    [
      "$or with one alternative",
      { $or: [{ type: ["A"] }] },
      "/$or $or must list at least two pattern objects",
    ],
    [
      "$or that is not a list",
      { $or: { type: ["A"] } },
      "/$or $or must be a list of at least two pattern objects",
    ],
    [
      "an operator name as a field inside $or",
      { $or: [{ type: ["A"] }, { prefix: ["A"] }] },
      "/$or/1/prefix 'prefix' is an operator name",
    ],
    [
      "anything-but mixing strings and numbers",
      { n: [{ "anything-but": ["a", 1] }] },
      "/n/0/anything-but anything-but list must hold only strings or only numbers",
    ],
    [
      "anything-but with an empty prefix",
      { n: [{ "anything-but": { prefix: "" } }] },
      "/n/0/anything-but/prefix anything-but prefix must not be empty",
    ],
    [
      "anything-but with an unsupported operator",
      { n: [{ "anything-but": { numeric: [">", 1] } }] },
      "/n/0/anything-but/numeric anything-but supports prefix, suffix",
    ],
    [
      "a numeric range upside down",
      { n: [{ numeric: [">", 5, "<", 1] }] },
      "/n/0/numeric numeric lower bound 5 must be less than the upper bound 1",
    ],
    [
      "a numeric range that starts with <",
      { n: [{ numeric: ["<", 5, ">", 1] }] },
      '/n/0/numeric numeric must be ["=", n]',
    ],
    [
      "prefix with an unknown option",
      { n: [{ prefix: { "ignore-case": "a" } }] },
      '/n/0/prefix prefix must be a string or {"equals-ignore-case": string}',
    ],
    ["an unknown operator", { n: [{ regex: "a.*" }] }, "/n/0 uses the unknown operator 'regex'"],
  ])("%s", (_, pattern, message) => {
    expect(refusal(pattern)).toContain(`Invalid filter: ${message}`);
  });

  it("refuses a pattern whose $or alternatives multiply past 1000", () => {
    const eleven = Array.from({ length: 11 }, (_, i) => ({ [`f${i}`]: ["x"] }));
    const pattern = { a: { $or: eleven }, b: { $or: eleven }, c: { $or: eleven } };
    expect(refusal(pattern)).toContain("expands to more than 1000 alternatives");
    // 10 × 10 × 10 is exactly the limit.
    const ten = eleven.slice(0, 10);
    expect(() => validateEventPattern({ a: { $or: ten }, b: { $or: ten }, c: { $or: ten } })).not.toThrow();
  });

  it("refuses a filter parameter that is not JSON, or far too long to be a pattern, naming the parameter", () => {
    expect(() => parseFilterParameter("{type:")).toThrow(/Query parameter 'filter' must be an event pattern/);
    expect(() => parseFilterParameter(" ".repeat(20_000))).toThrow(
      /Query parameter 'filter' must be at most 4096 bytes of JSON/,
    );
    expect(parseFilterParameter('{"type":["A"]}')).toEqual({ type: ["A"] });
  });

  it("refuses a pattern over 4096 bytes of JSON", () => {
    expect(refusal({ type: ["x".repeat(4100)] })).toContain("patterns are limited to 4096 bytes");
  });

  it("accepts every operator AWS documents", () => {
    const pattern = {
      source: [{ prefix: { "equals-ignore-case": "aws." } }, { suffix: { "equals-ignore-case": ".EC2" } }],
      type: [
        { wildcard: "Order*Placed" },
        { "equals-ignore-case": "x" },
        { "anything-but": { wildcard: ["*a*"] } },
      ],
      data: {
        ip: [{ cidr: "2001:db8::/32" }, { cidr: "10.0.0.0/8" }],
        n: [{ numeric: [">=", 0, "<", 1.5] }, { "anything-but": [1, 2] }],
        s: [{ "anything-but": { suffix: ["a", "b"] } }, { "anything-but": { "equals-ignore-case": "A" } }],
        $or: [{ x: [{ exists: true }] }, { y: [null, true, 1, ""] }],
      },
    };
    expect(validateEventPattern(pattern)).toBe(pattern);
  });
});
