/**
 * String comparisons that need more than `===`: EventBridge wildcards and case-insensitive matching. Both
 * run in time linear in the pattern times the value, never backtracking exponentially, because the
 * listener evaluates them on every event.
 */

/** A parsed wildcard: the literal pieces between unescaped `*`. */
export interface Wildcard {
  /** Literal text between stars; a pattern without stars has one piece. */
  pieces: string[];
}

/**
 * Parses an EventBridge wildcard: `*` matches any run of characters (also none), `\*` is a literal star,
 * `\\` a literal backslash; any other escape and two stars in a row are refused, as AWS refuses them.
 * Returns the rule broken, phrased to follow "wildcard", for a malformed one.
 */
export function parseWildcard(text: string): Wildcard | string {
  const pieces: string[] = [];
  let piece = "";
  let previousStar = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === "\\") {
      const next = text[i + 1];
      if (next !== "*" && next !== "\\") {
        return `has an invalid escape at index ${i} (only \\* and \\\\ may be escaped)`;
      }
      piece += next;
      i++;
      previousStar = false;
    } else if (c === "*") {
      if (previousStar) return `has two consecutive * at index ${i}`;
      pieces.push(piece);
      piece = "";
      previousStar = true;
    } else {
      piece += c;
      previousStar = false;
    }
  }
  pieces.push(piece);
  return { pieces };
}

/**
 * Whether `value` matches the wildcard. The first piece must start it and the last end it; the pieces
 * between are found left to right at their earliest place, which is enough for `*`-only globs.
 */
export function matchesWildcard(wildcard: Wildcard, value: string): boolean {
  const { pieces } = wildcard;
  const first = pieces[0]!;
  if (pieces.length === 1) return value === first;
  const last = pieces.at(-1)!;
  if (value.length < first.length + last.length) return false;
  if (!value.startsWith(first) || !value.endsWith(last)) return false;
  let at = first.length;
  const end = value.length - last.length;
  for (let i = 1; i < pieces.length - 1; i++) {
    const found = value.indexOf(pieces[i]!, at);
    if (found === -1 || found + pieces[i]!.length > end) return false;
    at = found + pieces[i]!.length;
  }
  return true;
}

/** A case-insensitive comparison compiled once per pattern string. */
export interface IgnoreCase {
  /** Anchored at the start of the value; `$` appended for a whole-value comparison. */
  whole: RegExp;
  prefix: RegExp;
  /** Sticky, tried only where a suffix of the right length could begin. */
  suffix: RegExp;
  minLength: number;
  maxLength: number;
}

const escapeRegExp = (text: string) => text.replace(/[\\^$.*+?()[\]{}|/]/g, "\\$&");

/**
 * Compiles `equals-ignore-case` as event-ruler defines it: each character of the pattern stands for its
 * lower-case or its upper-case form (so `straße` matches `STRASSE`, while a title-case letter such as `ǅ`
 * matches only `ǆ` or `Ǆ`).
 */
export function compileIgnoreCase(pattern: string): IgnoreCase {
  let source = "";
  let minLength = 0;
  let maxLength = 0;
  for (const c of pattern) {
    const forms = [...new Set([c.toLowerCase(), c.toUpperCase()])];
    source += forms.length === 1 ? escapeRegExp(forms[0]!) : `(?:${forms.map(escapeRegExp).join("|")})`;
    minLength += Math.min(...forms.map((f) => f.length));
    maxLength += Math.max(...forms.map((f) => f.length));
  }
  return {
    whole: new RegExp(`^${source}$`, "u"),
    prefix: new RegExp(`^${source}`, "u"),
    suffix: new RegExp(`${source}$`, "uy"),
    minLength,
    maxLength,
  };
}

export function equalsIgnoreCase(compiled: IgnoreCase, value: string): boolean {
  return compiled.whole.test(value);
}

export function startsWithIgnoreCase(compiled: IgnoreCase, value: string): boolean {
  return compiled.prefix.test(value);
}

export function endsWithIgnoreCase(compiled: IgnoreCase, value: string): boolean {
  const from = Math.max(0, value.length - compiled.maxLength);
  const to = value.length - compiled.minLength;
  for (let start = from; start <= to; start++) {
    compiled.suffix.lastIndex = start;
    if (compiled.suffix.test(value)) return true;
  }
  return false;
}
