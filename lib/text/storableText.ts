/**
 * Text that Postgres cannot hold. `text` and `jsonb` refuse U+0000 outright, and `jsonb` refuses the
 * `\uD800`-style escape of a surrogate that is not half of a pair (JSON.stringify writes lone surrogates
 * that way). Either would fail the INSERT after the request was accepted, so the edge refuses them first.
 */
// With the u flag, \p{Cs} matches only surrogates that are not half of a pair.
// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is exactly what this looks for.
const UNSTORABLE = /[\u0000\p{Cs}]/u;

/** `U+0041`-style name of the UTF-16 code unit at `index`. */
const codeUnitName = (text: string, index: number): string =>
  `U+${text.charCodeAt(index).toString(16).toUpperCase().padStart(4, "0")}`;

/**
 * The rule `text` breaks if stored in Postgres, phrased to follow a field name ("must not contain ..."),
 * or `undefined` when it can be stored.
 *
 * @example
 * ```ts
 * unstorableTextRule("a\u0000b"); // "must not contain U+0000 (NUL, at index 1)"
 * unstorableTextRule("ok"); // undefined
 * ```
 */
export function unstorableTextRule(text: string): string | undefined {
  const match = UNSTORABLE.exec(text);
  if (!match) return undefined;
  const name = codeUnitName(text, match.index);
  return name === "U+0000"
    ? `must not contain U+0000 (NUL, at index ${match.index})`
    : `must not contain a lone surrogate (${name} at index ${match.index} is not half of a pair)`;
}

/**
 * Makes text safe to quote back in an error message: NUL, other control characters and lone surrogates
 * become `\uXXXX`, and long text is cut.
 */
export function printable(text: string, max = 80): string {
  const cut = text.length > max ? `${text.slice(0, max)}...` : text;
  // With the u flag, \p{Cs} matches only surrogates that are not part of a pair.
  return cut.replace(
    /[\p{Cc}\p{Cs}]/gu,
    (c) => `\\u${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")}`,
  );
}
