import { parse as parseArray } from "postgres-array";

/** What decoding a column needs to know about its type (from `pg_type`; domains resolved to their base). */
export interface ColumnType {
  oid: number;
  /** `pg_type.typcategory`: `A` for arrays. */
  category: string;
  /** The element type of an array, else 0. */
  element: number;
}

const BOOL = 16;
const BYTEA = 17;
const INT8 = 20;
const INT2 = 21;
const INT4 = 23;
const OID = 26;
const JSON_TYPE = 114;
const FLOAT4 = 700;
const FLOAT8 = 701;
const TIMESTAMP = 1114;
const TIMESTAMPTZ = 1184;
const NUMERIC = 1700;
const JSONB = 3802;

/** Decimal text without sign noise, leading integer zeros or trailing fraction zeros, to compare exactly. */
function canonicalDecimal(text: string): string {
  let sign = "";
  let digits = text.trim();
  if (digits.startsWith("-") || digits.startsWith("+")) {
    if (digits.startsWith("-")) sign = "-";
    digits = digits.slice(1);
  }
  let [whole = "", fraction = ""] = digits.split(".");
  whole = whole.replace(/^0+(?=\d)/, "");
  fraction = fraction.replace(/0+$/, "");
  const body = fraction ? `${whole}.${fraction}` : whole;
  return body === "0" ? "0" : `${sign}${body}`;
}

/**
 * A numeric as a JSON number when a double holds it exactly (`12.50` becomes `12.5`), else its exact
 * decimal text: precision is never lost silently.
 */
function exactNumber(text: string): number | string {
  const value = Number(text);
  if (!Number.isFinite(value)) return text;
  return canonicalDecimal(String(value)) === canonicalDecimal(text) ? value : text;
}

/** `2026-11-30 01:02:03.123456+00` (DateStyle ISO, TimeZone UTC) as RFC 3339 `2026-11-30T01:02:03.123456Z`. */
function rfc3339(text: string, withZone: boolean): string {
  const match = /^(\d{4,}-\d\d-\d\d) (\d\d:\d\d:\d\d(?:\.\d+)?)(?:([+-]\d\d)(?::?(\d\d))?)?$/.exec(text);
  if (!match) return text; // infinity, BC dates: Postgres' own text
  const [, date, time, zoneHours, zoneMinutes] = match;
  if (!withZone || zoneHours === undefined) return `${date}T${time}`;
  if (zoneHours === "+00" && (zoneMinutes ?? "00") === "00") return `${date}T${time}Z`;
  return `${date}T${time}${zoneHours}:${zoneMinutes ?? "00"}`;
}

/**
 * Turns one column's text (as pgoutput sends it, with the replication session in DateStyle ISO and
 * TimeZone UTC) into the JSON value the event carries: booleans and exact numbers as JSON, json/jsonb as
 * JSON, timestamps as RFC 3339, arrays as JSON arrays of their decoded elements, bytea as Postgres' `\x` hex
 * text (what `to_jsonb` gives), and everything else (text, uuid, enums, dates, intervals, ranges) as text.
 */
export function decodeColumnValue(
  text: string,
  type: ColumnType,
  typeOf: (oid: number) => ColumnType,
): unknown {
  switch (type.oid) {
    case BOOL:
      return text === "t";
    case INT2:
    case INT4:
    case OID:
      return Number(text);
    case INT8: {
      const value = Number(text);
      return Number.isSafeInteger(value) ? value : text;
    }
    case FLOAT4:
    case FLOAT8: {
      const value = Number(text);
      return Number.isFinite(value) ? value : text;
    }
    case NUMERIC:
      return exactNumber(text);
    case JSON_TYPE:
    case JSONB:
      return JSON.parse(text);
    case TIMESTAMPTZ:
      return rfc3339(text, true);
    case TIMESTAMP:
      return rfc3339(text, false);
    case BYTEA:
      return text;
  }
  if (type.category === "A" && type.element !== 0) {
    const element = typeOf(type.element);
    // postgres-array hands NULL elements to the transform as null.
    return parseArray(text, (item: string | null) =>
      item === null ? null : decodeColumnValue(item, element, typeOf),
    );
  }
  return text;
}
