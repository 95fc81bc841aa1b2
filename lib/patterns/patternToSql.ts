import type { PendingQuery, Row, Sql } from "postgres";
import { parseIpAddress } from "./ipAddress.ts";
import { patternAlternatives } from "./matchPattern.ts";
import { parseWildcard } from "./stringMatchers.ts";
import { type EventPattern, isPlainObject } from "./validatePattern.ts";

type Fragment = PendingQuery<Row[]>;

/**
 * How a top-level CloudEvent attribute is stored: `text` attributes are always a string equal to the
 * expression (`type`, `streamid`, `id`, and `subject`, the producer's or else the stream id); `integer` ones a
 * JSON integer (`streamversion`); `position` is a bigint column emitted as a decimal string, so only string
 * comparisons on its text form are pushed down.
 */
const ATTRIBUTES: Record<
  string,
  { expression: (sql: Sql) => Fragment; kind: "text" | "integer" | "position" }
> = {
  type: { expression: (sql) => sql`type`, kind: "text" },
  streamid: { expression: (sql) => sql`stream_id`, kind: "text" },
  id: { expression: (sql) => sql`id`, kind: "text" },
  // As cloudEventJson emits it: a producer's subject is a non-empty string kept in `metadata`.
  subject: { expression: (sql) => sql`coalesce(metadata->>'subject', stream_id)`, kind: "text" },
  streamversion: { expression: (sql) => sql`version`, kind: "integer" },
  position: { expression: (sql) => sql`position`, kind: "position" },
};

/** Beyond this many `$or` alternatives the narrowing would cost more SQL than it saves: read everything. */
const MAX_SQL_ALTERNATIVES = 32;

const escapeLike = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);

/** A wildcard as a LIKE pattern (`*` becomes `%`, everything else literal). */
function wildcardLike(text: unknown): string | undefined {
  if (typeof text !== "string") return undefined;
  const parsed = parseWildcard(text);
  return typeof parsed === "string" ? undefined : parsed.pieces.map(escapeLike).join("%");
}

const strings = (value: unknown): string[] | undefined => {
  const list = Array.isArray(value) ? value : [value];
  return list.every((x) => typeof x === "string") ? (list as string[]) : undefined;
};

/** LIKE patterns for plain string matchers (prefix, suffix, wildcard), or `undefined` for any other. */
function likeFor(op: string, arg: unknown): string[] | undefined {
  const values = strings(arg);
  if (!values) return undefined;
  if (op === "prefix") return values.map((v) => `${escapeLike(v)}%`);
  if (op === "suffix") return values.map((v) => `%${escapeLike(v)}`);
  if (op === "wildcard") {
    const likes = values.map(wildcardLike);
    return likes.every((l) => l !== undefined) ? (likes as string[]) : undefined;
  }
  return undefined;
}

/**
 * One matcher on a `text` column, exactly as the TypeScript matcher decides it, or `undefined` when it
 * cannot be said exactly in SQL (case folding, IP address literals and CIDR blocks are left to TypeScript).
 */
function textCondition(sql: Sql, col: Fragment, matcher: unknown): Fragment | undefined {
  if (typeof matcher === "string") return parseIpAddress(matcher) ? undefined : sql`${col} = ${matcher}`;
  if (!isPlainObject(matcher)) return sql`false`; // a number, boolean or null never equals a string
  const [op] = Object.keys(matcher) as [string];
  const arg = matcher[op];
  if (op === "exists") return arg === true ? sql`true` : sql`false`;
  if (op === "numeric") return sql`false`;
  if (op === "prefix" || op === "suffix" || op === "wildcard") {
    const likes = likeFor(op, arg);
    return likes ? sql`${col} like ${likes[0]!}` : undefined;
  }
  if (op === "anything-but") {
    if (typeof arg === "number" || (Array.isArray(arg) && arg.every((x) => typeof x === "number"))) {
      return sql`true`; // a string is never one of the excluded numbers
    }
    const values = strings(arg);
    if (values) return sql`${col} <> all(${values}::text[])`;
    if (isPlainObject(arg)) {
      const [inner] = Object.keys(arg) as [string];
      const likes = likeFor(inner, arg[inner]);
      return likes ? sql`${col} not like all(${likes}::text[])` : undefined;
    }
  }
  return undefined;
}

/** One matcher on the `integer` column (`streamversion`, always a JSON integer). */
function integerCondition(sql: Sql, col: Fragment, matcher: unknown): Fragment | undefined {
  if (typeof matcher === "number")
    return Number.isSafeInteger(matcher) ? sql`${col} = ${matcher}` : sql`false`;
  if (!isPlainObject(matcher)) return sql`false`; // strings, booleans and null never equal a number
  const [op] = Object.keys(matcher) as [string];
  const arg = matcher[op];
  if (op === "exists") return arg === true ? sql`true` : sql`false`;
  if (op === "numeric" && Array.isArray(arg)) {
    // Compared as float8, as TypeScript compares doubles; versions are far below 2^53, so exactly.
    const value = sql`${col}::float8`;
    const parts: Fragment[] = [];
    for (let i = 0; i + 1 < arg.length; i += 2) {
      const n = arg[i + 1];
      if (typeof n !== "number") return undefined;
      const bound = sql`${n}::float8`;
      const opText = arg[i];
      if (opText === "=") parts.push(sql`${value} = ${bound}`);
      else if (opText === "<") parts.push(sql`${value} < ${bound}`);
      else if (opText === "<=") parts.push(sql`${value} <= ${bound}`);
      else if (opText === ">") parts.push(sql`${value} > ${bound}`);
      else if (opText === ">=") parts.push(sql`${value} >= ${bound}`);
      else return undefined;
    }
    return parts.reduce((acc, part) => sql`${acc} and ${part}`, sql`true`);
  }
  if (op === "anything-but") {
    const numbers = Array.isArray(arg) ? arg : [arg];
    if (numbers.every((x) => typeof x === "number")) {
      return sql`${col}::float8 <> all(${numbers as number[]}::float8[])`;
    }
    return sql`true`; // strings (and string operators) never exclude a number
  }
  // prefix, suffix, equals-ignore-case, wildcard and cidr apply to strings only.
  return sql`false`;
}

/**
 * One matcher on `position`. Only plain string matchers are pushed down, on its decimal text: they are
 * exact whether the attribute is emitted as a string or (as before) as a number, where they match nothing
 * in TypeScript and the SQL is merely wider.
 */
function positionCondition(sql: Sql, col: Fragment, matcher: unknown): Fragment | undefined {
  const text = sql`${col}::text`;
  if (typeof matcher === "string") return parseIpAddress(matcher) ? undefined : sql`${text} = ${matcher}`;
  if (!isPlainObject(matcher)) return undefined;
  const [op] = Object.keys(matcher) as [string];
  const likes = likeFor(op, matcher[op]);
  return likes ? sql`${text} like ${likes[0]!}` : undefined;
}

/**
 * A field under `data` (the jsonb column): exact strings, plain prefixes and `exists: true` as a JSON path
 * that finds the key at any depth and the value at any depth below it. That is wider than EventBridge's
 * lookup (which only descends through arrays), so it is a sound narrowing whatever the nesting of arrays.
 * Numbers are left out: JSON numbers that TypeScript reads as the same double can differ as Postgres
 * numerics. Anything else on the field makes it unnarrowable.
 */
function dataCondition(sql: Sql, keys: string[], matchers: unknown[]): Fragment | undefined {
  const path = `$${keys.map((key) => `.**.${JSON.stringify(key)}`).join("")}`;
  const parts: Fragment[] = [];
  for (const matcher of matchers) {
    if (typeof matcher === "string" && !parseIpAddress(matcher)) {
      parts.push(
        sql`jsonb_path_exists(data, ${`${path}.** ? (@ == $v)`}::jsonpath, ${sql.json({ v: matcher })})`,
      );
    } else if (isPlainObject(matcher) && typeof matcher.prefix === "string") {
      parts.push(
        sql`jsonb_path_exists(data, ${`${path}.** ? (@ starts with $v)`}::jsonpath, ${sql.json({ v: matcher.prefix })})`,
      );
    } else if (isPlainObject(matcher) && matcher.exists === true) {
      parts.push(sql`jsonb_path_exists(data, ${path}::jsonpath)`);
    } else {
      return undefined;
    }
  }
  return parts.reduce((acc, part) => sql`${acc} or ${part}`, sql`false`);
}

/** A field's value list on a column: any of its matchers (OR), or `undefined` if one cannot be said. */
function leafCondition(sql: Sql, path: string[], matchers: unknown[]): Fragment | undefined {
  if (path[0] === "data" && path.length > 1) return dataCondition(sql, path.slice(1), matchers);
  if (path.length !== 1) return undefined;
  const target = ATTRIBUTES[path[0]!];
  if (!target) return undefined;
  const col = target.expression(sql);
  const toCondition =
    target.kind === "text" ? textCondition : target.kind === "integer" ? integerCondition : positionCondition;
  const parts = matchers.map((m) => toCondition(sql, col, m));
  if (parts.some((p) => p === undefined)) return undefined;
  return (parts as Fragment[]).reduce((acc, part) => sql`${acc} or ${part}`, sql`false`);
}

/**
 * The part of a pattern that Postgres can evaluate, as a `where` fragment over `eventbus.events` (`true`
 * when nothing can). It is a narrowing only: for every event the TypeScript matcher accepts, the fragment is
 * true, so the listener can apply it in SQL and still re-check every row with `matchesEventPattern`. It
 * narrows on the top-level attributes stored in columns (`type`, `streamid`, `id`, `subject`,
 * `streamversion`, and string matchers on `position`) and on strings under `data`; each `$or` alternative
 * narrows on its own and the alternatives are ORed.
 * Filters on `type` can use the `(type, position)` index.
 */
export function patternToSql(sql: Sql, pattern: EventPattern | null | undefined): Fragment {
  if (!pattern) return sql`true`;
  const alternatives = patternAlternatives(pattern);
  if (alternatives.length > MAX_SQL_ALTERNATIVES) return sql`true`;
  const conditions: Fragment[] = [];
  for (const fields of alternatives) {
    const parts = fields
      .map(({ path, matchers }) => leafCondition(sql, path, matchers))
      .filter((p): p is Fragment => p !== undefined);
    // One alternative that cannot be narrowed makes the whole pattern unnarrowable.
    if (parts.length === 0) return sql`true`;
    conditions.push(parts.reduce((acc, part) => sql`${acc} and (${part})`, sql`true`));
  }
  return sql`(${conditions.reduce((acc, c) => sql`${acc} or (${c})`, sql`false`)})`;
}
