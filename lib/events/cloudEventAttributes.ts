import { printable, unstorableTextRule } from "../text/storableText.ts";

/**
 * CloudEvents 1.0 attribute rules (spec section "Context Attributes" and "Type System"), as the bus applies
 * them to what producers send. Each rule returns why a value is refused, phrased to follow the attribute's
 * name, or `undefined` when it is accepted.
 */

/** A stored attribute value: the JSON forms of the CloudEvents types (Integer is 32-bit). */
export type AttributeValue = string | number | boolean;

/** Attribute names: lower-case ASCII letters and digits; the spec asks for at most 20 characters. */
export const ATTRIBUTE_NAME = /^[a-z0-9]{1,20}$/;

/** The extensions the bus sets on every event it emits: never settable by a producer. */
export const BUS_ATTRIBUTES = new Set(["streamid", "streamversion", "position"]);

/** Context attributes with a meaning of their own (not extensions). */
export const CORE_ATTRIBUTES = new Set([
  "specversion",
  "id",
  "source",
  "type",
  "datacontenttype",
  "dataschema",
  "subject",
  "time",
  "data",
  "data_base64",
]);

/** The optional attributes a producer sets and the bus keeps and emits unchanged. */
export const OPTIONAL_ATTRIBUTES = ["source", "subject", "time", "datacontenttype", "dataschema"] as const;

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

/** Longest `source` the bus stores: it is part of the event's identity (and of a unique index). */
export const MAX_SOURCE_LENGTH = 1024;

/**
 * RFC 3986 URI-reference and URI, as the official JavaScript SDK checks them (its JSON schema uses
 * ajv-formats' "uri-reference" and "uri" formats; these are those expressions, MIT licensed), except that
 * the double quote, which RFC 3986 does not allow anywhere, is refused here too. Accepting only what the
 * SDK accepts means every event the bus emits parses in its strict mode.
 */
const URI_REFERENCE =
  /^(?:[a-z][a-z0-9+\-.]*:)?(?:\/?\/(?:(?:[a-z0-9\-._~!$&'()*+,;=:]|%[0-9a-f]{2})*@)?(?:\[(?:(?:(?:(?:[0-9a-f]{1,4}:){6}|::(?:[0-9a-f]{1,4}:){5}|(?:[0-9a-f]{1,4})?::(?:[0-9a-f]{1,4}:){4}|(?:(?:[0-9a-f]{1,4}:){0,1}[0-9a-f]{1,4})?::(?:[0-9a-f]{1,4}:){3}|(?:(?:[0-9a-f]{1,4}:){0,2}[0-9a-f]{1,4})?::(?:[0-9a-f]{1,4}:){2}|(?:(?:[0-9a-f]{1,4}:){0,3}[0-9a-f]{1,4})?::[0-9a-f]{1,4}:|(?:(?:[0-9a-f]{1,4}:){0,4}[0-9a-f]{1,4})?::)(?:[0-9a-f]{1,4}:[0-9a-f]{1,4}|(?:(?:25[0-5]|2[0-4]\d|[01]?\d\d?)\.){3}(?:25[0-5]|2[0-4]\d|[01]?\d\d?))|(?:(?:[0-9a-f]{1,4}:){0,5}[0-9a-f]{1,4})?::[0-9a-f]{1,4}|(?:(?:[0-9a-f]{1,4}:){0,6}[0-9a-f]{1,4})?::)|[Vv][0-9a-f]+\.[a-z0-9\-._~!$&'()*+,;=:]+)\]|(?:(?:25[0-5]|2[0-4]\d|[01]?\d\d?)\.){3}(?:25[0-5]|2[0-4]\d|[01]?\d\d?)|(?:[a-z0-9\-._~!$&'()*+,;=]|%[0-9a-f]{2})*)(?::\d*)?(?:\/(?:[a-z0-9\-._~!$&'()*+,;=:@]|%[0-9a-f]{2})*)*|\/(?:(?:[a-z0-9\-._~!$&'()*+,;=:@]|%[0-9a-f]{2})+(?:\/(?:[a-z0-9\-._~!$&'()*+,;=:@]|%[0-9a-f]{2})*)*)?|(?:[a-z0-9\-._~!$&'()*+,;=:@]|%[0-9a-f]{2})+(?:\/(?:[a-z0-9\-._~!$&'()*+,;=:@]|%[0-9a-f]{2})*)*)?(?:\?(?:[a-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9a-f]{2})*)?(?:#(?:[a-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9a-f]{2})*)?$/i;
const URI =
  /^(?:[a-z][a-z0-9+\-.]*:)(?:\/?\/(?:(?:[a-z0-9\-._~!$&'()*+,;=:]|%[0-9a-f]{2})*@)?(?:\[(?:(?:(?:(?:[0-9a-f]{1,4}:){6}|::(?:[0-9a-f]{1,4}:){5}|(?:[0-9a-f]{1,4})?::(?:[0-9a-f]{1,4}:){4}|(?:(?:[0-9a-f]{1,4}:){0,1}[0-9a-f]{1,4})?::(?:[0-9a-f]{1,4}:){3}|(?:(?:[0-9a-f]{1,4}:){0,2}[0-9a-f]{1,4})?::(?:[0-9a-f]{1,4}:){2}|(?:(?:[0-9a-f]{1,4}:){0,3}[0-9a-f]{1,4})?::[0-9a-f]{1,4}:|(?:(?:[0-9a-f]{1,4}:){0,4}[0-9a-f]{1,4})?::)(?:[0-9a-f]{1,4}:[0-9a-f]{1,4}|(?:(?:25[0-5]|2[0-4]\d|[01]?\d\d?)\.){3}(?:25[0-5]|2[0-4]\d|[01]?\d\d?))|(?:(?:[0-9a-f]{1,4}:){0,5}[0-9a-f]{1,4})?::[0-9a-f]{1,4}|(?:(?:[0-9a-f]{1,4}:){0,6}[0-9a-f]{1,4})?::)|[Vv][0-9a-f]+\.[a-z0-9\-._~!$&'()*+,;=:]+)\]|(?:(?:25[0-5]|2[0-4]\d|[01]?\d\d?)\.){3}(?:25[0-5]|2[0-4]\d|[01]?\d\d?)|(?:[a-z0-9\-._~!$&'()*+,;=]|%[0-9a-f]{2})*)(?::\d*)?(?:\/(?:[a-z0-9\-._~!$&'()*+,;=:@]|%[0-9a-f]{2})*)*|\/(?:(?:[a-z0-9\-._~!$&'()*+,;=:@]|%[0-9a-f]{2})+(?:\/(?:[a-z0-9\-._~!$&'()*+,;=:@]|%[0-9a-f]{2})*)*)?|(?:[a-z0-9\-._~!$&'()*+,;=:@]|%[0-9a-f]{2})+(?:\/(?:[a-z0-9\-._~!$&'()*+,;=:@]|%[0-9a-f]{2})*)*)(?:\?(?:[a-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9a-f]{2})*)?(?:#(?:[a-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9a-f]{2})*)?$/i;

/** RFC 3339 `date-time`, with a `T` (either case) between date and time and a required offset. */
const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-](\d{2}):(\d{2}))$/;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * Why `value` is not an RFC 3339 timestamp. Leap seconds (`:60`) are refused: JavaScript's Date, which the
 * SDK uses to read `time`, cannot represent them.
 */
export function timeRule(value: string): string | undefined {
  const m = DATE_TIME.exec(value);
  const rule =
    "must be an RFC 3339 timestamp such as 2024-05-01T12:30:00Z (date, 'T', time, then 'Z' or an offset)";
  if (!m) return rule;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as number[];
  const leap = year! % 4 === 0 && (year! % 100 !== 0 || year! % 400 === 0);
  const days = month === 2 && leap ? 29 : DAYS_IN_MONTH[month! - 1];
  if (days === undefined || day! < 1 || day! > days)
    return `${rule}: there is no day ${m[3]} in month ${m[2]}`;
  if (hour! > 23 || minute! > 59 || second! > 59)
    return `${rule}: ${m[4]}:${m[5]}:${m[6]} is not a time of day`;
  if (m[9] !== undefined && (Number(m[9]) > 23 || Number(m[10]) > 59)) return `${rule}: bad offset`;
  return undefined;
}

/** Why `value` is not a valid value for the attribute `name` (a core attribute or an extension). */
export function attributeValueRule(name: string, value: unknown): string | undefined {
  switch (name) {
    case "source":
      if (typeof value !== "string" || value.length === 0) return "must be a non-empty string";
      if (value.length > MAX_SOURCE_LENGTH) return `must be at most ${MAX_SOURCE_LENGTH} characters`;
      return URI_REFERENCE.test(value)
        ? undefined
        : "must be a URI-reference (RFC 3986), such as https://example.com/orders, urn:orders or /orders";
    case "dataschema":
      if (typeof value !== "string" || value.length === 0) return "must be a non-empty string";
      return /[/:]/.test(value) && URI.test(value) ? undefined : "must be an absolute URI (RFC 3986)";
    case "time":
      return typeof value === "string" ? timeRule(value) : "must be a string";
    case "subject":
    case "datacontenttype":
      if (typeof value !== "string" || value.length === 0) return "must be a non-empty string";
      return textRule(value);
    default:
      return extensionValueRule(value);
  }
}

/** Extension values: a string, a boolean or a 32-bit integer (the JSON forms of the CloudEvents types). */
export function extensionValueRule(value: unknown): string | undefined {
  if (typeof value === "boolean") return undefined;
  if (typeof value === "string") return textRule(value);
  if (typeof value === "number") {
    return Number.isInteger(value) && value >= INT32_MIN && value <= INT32_MAX
      ? undefined
      : "must be an integer from -2147483648 to 2147483647 (CloudEvents integers are 32-bit): send other numbers as strings";
  }
  return "must be a string, a boolean or an integer (CloudEvents attribute values are scalars)";
}

function textRule(value: string): string | undefined {
  const unstorable = unstorableTextRule(value);
  if (unstorable) return unstorable;
  return /[\uFFFE\uFFFF]/.test(value)
    ? `must not contain ${printable(value.match(/[\uFFFE\uFFFF]/)![0])}`
    : undefined;
}

/** Why `name` cannot be an attribute set by a producer, or `undefined` when it can. */
export function attributeNameRule(name: string): string | undefined {
  if (!ATTRIBUTE_NAME.test(name)) {
    return "is not a valid attribute name: 1-20 lower-case letters (a-z) and digits (0-9)";
  }
  if (BUS_ATTRIBUTES.has(name)) return "is set by the bus and cannot be set by a producer";
  return undefined;
}
