import { describe, expect, it } from "vitest";
import { matchesEventPattern, validateEventPattern } from "../../lib/subscriptions/eventPattern.ts";

const event = {
  id: "e-1",
  type: "OrderPlaced",
  subject: "orders-42",
  streamid: "orders-42",
  position: 17,
  data: { total: 120.5, currency: "EUR", tags: ["gift", "express"], customer: { tier: "gold" }, note: null },
};

describe("event patterns", () => {
  it.each([
    ["exact value", { type: ["OrderPlaced"] }],
    ["one of several values", { type: ["OrderPaid", "OrderPlaced"] }],
    ["prefix", { subject: [{ prefix: "orders-" }] }],
    ["suffix", { subject: [{ suffix: "-42" }] }],
    ["equals-ignore-case", { type: [{ "equals-ignore-case": "orderplaced" }] }],
    ["anything-but a value", { type: [{ "anything-but": "OrderPaid" }] }],
    ["anything-but a list", { data: { currency: [{ "anything-but": ["USD", "GBP"] }] } }],
    ["anything-but a prefix", { type: [{ "anything-but": { prefix: "User" } }] }],
    ["numeric range", { data: { total: [{ numeric: [">", 100, "<=", 200] }] } }],
    ["numeric equality", { position: [{ numeric: ["=", 17] }] }],
    ["exists", { data: { currency: [{ exists: true }] } }],
    ["does not exist", { data: { coupon: [{ exists: false }] } }],
    ["an element of an array", { data: { tags: ["express"] } }],
    ["a nested object", { data: { customer: { tier: ["gold"] } } }],
    ["null", { data: { note: [null] } }],
    ["several keys (AND)", { type: ["OrderPlaced"], data: { currency: ["EUR"] } }],
  ])("matches: %s", (_, pattern) => {
    expect(matchesEventPattern(validateEventPattern(pattern), event)).toBe(true);
  });

  it.each([
    ["another value", { type: ["OrderPaid"] }],
    ["another prefix", { subject: [{ prefix: "users-" }] }],
    ["anything-but the value it has", { type: [{ "anything-but": ["OrderPlaced"] }] }],
    ["out of the numeric range", { data: { total: [{ numeric: ["<", 100] }] } }],
    ["numeric against a string", { data: { currency: [{ numeric: [">", 0] }] } }],
    ["exists on a missing field", { data: { coupon: [{ exists: true }] } }],
    ["not exists on a present field", { data: { currency: [{ exists: false }] } }],
    ["a value on a missing field", { data: { coupon: ["X"] } }],
    ["anything-but on a missing field", { data: { coupon: [{ "anything-but": "X" }] } }],
    ["one key of two failing", { type: ["OrderPlaced"], data: { currency: ["USD"] } }],
    ["a string against a number", { position: ["17"] }],
  ])("does not match: %s", (_, pattern) => {
    expect(matchesEventPattern(validateEventPattern(pattern), event)).toBe(false);
  });

  it.each([
    ["not an object", ["type"]],
    ["an empty pattern", {}],
    ["a bare value instead of an array", { type: "OrderPlaced" }],
    ["an empty array", { type: [] }],
    ["an unknown operator", { type: [{ regex: ".*" }] }],
    ["two operators in one object", { type: [{ prefix: "a", suffix: "b" }] }],
    ["a numeric operator that is not one", { n: [{ numeric: ["~", 1] }] }],
    ["a numeric bound that is not a number", { n: [{ numeric: [">", "1"] }] }],
    ["exists that is not a boolean", { n: [{ exists: "yes" }] }],
  ])("rejects %s with VALIDATION_FAILED and a pointer", (_, pattern) => {
    try {
      validateEventPattern(pattern);
      expect.unreachable();
    } catch (error) {
      expect(error).toMatchObject({
        code: "VALIDATION_FAILED",
        details: { errors: [{ pointer: expect.any(String) }] },
      });
    }
  });
});
