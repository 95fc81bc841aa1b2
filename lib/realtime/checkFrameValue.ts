import { validationFailed } from "../errors.ts";

/**
 * How deeply a WebSocket frame's JSON may nest (as deep as HTTP request bodies). Deep enough for any real message or filter, shallow
 * enough that no recursive step after it (pattern validation, matching, serialisation) can overflow the
 * stack: a frame nested 5,000 deep used to end as `INTERNAL`.
 */
export const MAX_FRAME_DEPTH = 64;

// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is what this looks for.
const UNSAFE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

const ruleOf = (text: string): string | undefined => {
  const match = UNSAFE.exec(text);
  if (!match) return undefined;
  const unit = `U+${text.charCodeAt(match.index).toString(16).toUpperCase().padStart(4, "0")}`;
  return unit === "U+0000"
    ? `must not contain U+0000 (NUL, at index ${match.index})`
    : `must not contain a lone surrogate (${unit} at index ${match.index})`;
};

const escapePointer = (key: string) => key.replace(/~/g, "~0").replace(/\//g, "~1");

/**
 * Refuses a parsed frame that nests deeper than `MAX_FRAME_DEPTH` or holds a string or key with NUL or a
 * lone surrogate (which DynamoDB, Postgres and many clients refuse or mangle). Walks iteratively, so the
 * check itself cannot overflow. The HTTP edge applies the same rules to request bodies.
 *
 * @throws {EventBusError} `VALIDATION_FAILED` naming the JSON pointer and the rule.
 */
export function checkFrameValue(value: unknown): void {
  const stack: Array<{ value: unknown; pointer: string; depth: number }> = [{ value, pointer: "", depth: 0 }];
  while (stack.length > 0) {
    const item = stack.pop()!;
    if (typeof item.value === "string") {
      const rule = ruleOf(item.value);
      if (rule) throw refused(item.pointer, rule);
      continue;
    }
    if (typeof item.value !== "object" || item.value === null) continue;
    if (item.depth >= MAX_FRAME_DEPTH) {
      throw refused(item.pointer, `must not nest more than ${MAX_FRAME_DEPTH} levels deep`);
    }
    const entries = Array.isArray(item.value)
      ? item.value.map((child, index) => [String(index), child] as const)
      : Object.entries(item.value);
    for (const [key, child] of entries) {
      const pointer = `${item.pointer}/${escapePointer(key)}`;
      const keyRule = Array.isArray(item.value) ? undefined : ruleOf(key);
      if (keyRule) throw refused(pointer, `(a member name) ${keyRule}`);
      stack.push({ value: child, pointer, depth: item.depth + 1 });
    }
  }
}

function refused(pointer: string, rule: string) {
  // Quoted back safely: no control characters or surrogates, and cut.
  const safe = pointer.replace(/[\p{Cc}\p{Cs}]/gu, "?");
  const where = pointer === "" ? "The frame" : safe.length > 120 ? `${safe.slice(0, 120)}...` : safe;
  return validationFailed(`Invalid frame: ${where} ${rule}.`, {
    errors: [{ pointer: pointer === "" ? "/" : where, message: rule }],
  });
}
