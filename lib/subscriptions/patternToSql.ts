import type { PendingQuery, Row, Sql } from "postgres";
import type { EventPattern, Matcher } from "./eventPattern.ts";

type Fragment = PendingQuery<Row[]>;

/** CloudEvent attributes that are plain columns of `eventbus.events`. */
const stringColumns: Record<string, string> = {
  type: "type",
  subject: "stream_id",
  streamid: "stream_id",
  id: "id",
};
const numberColumns: Record<string, string> = { position: "position", streamversion: "version" };

const likePrefix = (prefix: string) => `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

function stringCondition(sql: Sql, column: string, matcher: Matcher): Fragment | undefined {
  const col = sql(column);
  if (typeof matcher === "string") return sql`${col} = ${matcher}`;
  if (matcher === null || typeof matcher !== "object") return undefined;
  if ("prefix" in matcher) return sql`${col} like ${likePrefix(matcher.prefix)}`;
  if ("anything-but" in matcher) {
    const arg = matcher["anything-but"];
    if (typeof arg === "string") return sql`${col} <> ${arg}`;
    if (Array.isArray(arg) && arg.every((x) => typeof x === "string")) {
      return sql`${col} <> all(${arg as string[]}::text[])`;
    }
    if (arg !== null && typeof arg === "object" && !Array.isArray(arg)) {
      return sql`${col} not like ${likePrefix(arg.prefix)}`;
    }
  }
  return undefined;
}

function numberCondition(sql: Sql, column: string, matcher: Matcher): Fragment | undefined {
  const col = sql(column);
  // Only safe integers bind to a bigint column. Validation refuses anything else on these attributes, but a
  // filter stored before it did must still evaluate: leave such a leaf to the listener's JS match.
  if (typeof matcher === "number")
    return Number.isSafeInteger(matcher) ? sql`${col} = ${matcher}` : undefined;
  if (matcher === null || typeof matcher !== "object" || !("numeric" in matcher)) return undefined;
  if (!matcher.numeric.every((x, i) => i % 2 === 0 || Number.isSafeInteger(x))) return undefined;
  let fragment: Fragment | undefined;
  for (let i = 0; i < matcher.numeric.length; i += 2) {
    const n = matcher.numeric[i + 1] as number;
    const op = matcher.numeric[i] as string;
    const part =
      op === "="
        ? sql`${col} = ${n}`
        : op === "<"
          ? sql`${col} < ${n}`
          : op === "<="
            ? sql`${col} <= ${n}`
            : op === ">"
              ? sql`${col} > ${n}`
              : sql`${col} >= ${n}`;
    fragment = fragment ? sql`${fragment} and ${part}` : part;
  }
  return fragment;
}

/**
 * The part of a pattern that Postgres can evaluate, as a `where` fragment (`true` when none can). It is a
 * superset filter: it only narrows on top-level attributes that are columns (`type`, `subject`/`streamid`,
 * `id`, `position`, `streamversion`) and only when every alternative of that leaf translates exactly. The
 * listener still evaluates the whole pattern in JS, so SQL only saves reading rows that cannot match
 * (and lets `type` filters use the `(type, position)` index).
 */
export function patternToSql(sql: Sql, pattern: EventPattern | null | undefined): Fragment {
  let where: Fragment = sql`true`;
  if (!pattern) return where;
  for (const [key, leaf] of Object.entries(pattern)) {
    if (!Array.isArray(leaf)) continue;
    const column = stringColumns[key] ?? numberColumns[key];
    if (!column) continue;
    const toCondition = stringColumns[key] ? stringCondition : numberCondition;
    const parts = leaf.map((m) => toCondition(sql, column, m));
    if (parts.some((p) => p === undefined)) continue;
    const any = (parts as Fragment[]).reduce((acc, p) => sql`${acc} or ${p}`);
    where = sql`${where} and (${any})`;
  }
  return where;
}
