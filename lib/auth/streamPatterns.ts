/**
 * Glob patterns of a token's `streams` claim: `*` matches any run of characters, `?` exactly one.
 * `orders-*` covers every stream of the `orders` category; `*` covers everything.
 */
export function matchesStreamPattern(pattern: string, value: string): boolean {
  const source = pattern
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${source}$`, "s").test(value);
}

/** `true` when there is no restriction, or one of the patterns matches. */
export const allowedByPatterns = (patterns: readonly string[] | undefined, value: string): boolean =>
  patterns === undefined || patterns.some((pattern) => matchesStreamPattern(pattern, value));

/** Turns a glob into a SQL LIKE pattern (with `\` as the escape character, Postgres's default). */
export const globToLike = (pattern: string): string =>
  pattern
    .replace(/[\\%_]/g, "\\$&")
    .replace(/\*/g, "%")
    .replace(/\?/g, "_");
