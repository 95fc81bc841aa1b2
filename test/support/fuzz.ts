import { request } from "node:http";
import fc from "fast-check";
import { errorStatus } from "../../lib/errors.ts";

/** Runs per property: a few hundred in `npm test`; `FUZZ_RUNS=5000 npx vitest run test/fuzz` for more. */
export const fuzzRuns = (defaultRuns: number) => Number(process.env.FUZZ_RUNS ?? defaultRuns);

/** Characters that broke something once or that each layer treats specially. */
const nasty = fc.constantFrom(
  "\u0000",
  "\uD800",
  "\uDBFF",
  "\uDFFF",
  "\uFFFE",
  "\uFFFF",
  "\u{1F600}",
  "\u{10FFFF}",
  "\u{E0001}",
  "\u2028",
  "\u0085",
  "\u007F",
  "\t",
  "\n",
  "'",
  '"',
  "\\",
  "%",
  "%00",
  "*",
  "$",
  "{",
  "..",
  "/",
  "\u00E9",
);

/** Any text: ordinary characters, whole code points, and the nasty ones above (lone surrogates included). */
export const anyText = (maxLength = 24) =>
  fc.string({
    unit: fc.oneof(
      { weight: 3, arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 1 }) },
      { weight: 2, arbitrary: nasty },
      { weight: 3, arbitrary: fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength: 1 }) },
    ),
    maxLength,
  });

/** Any JSON value whose strings and keys are `anyText`. */
export const anyJson = (maxDepth = 4): fc.Arbitrary<unknown> =>
  fc.letrec<{ value: unknown }>((tie) => ({
    value: fc.oneof(
      { depthSize: "small", maxDepth },
      fc.constant(null),
      fc.boolean(),
      fc.integer(),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.constantFrom(0, -1, 1e30, -1e30, 2 ** 53, 2 ** 63, 1.5, Number.MAX_VALUE, Number.MIN_VALUE),
      anyText(),
      fc.array(tie("value"), { maxLength: 4 }),
      fc.dictionary(anyText(8), tie("value"), { maxKeys: 4 }),
    ),
  })).value;

/** JSON nested `depth` deep, as raw text (a recursive value that deep would overflow our own stack). */
export const deepJson = (depth: number, kind: "array" | "object") =>
  kind === "array"
    ? `${"[".repeat(depth)}1${"]".repeat(depth)}`
    : `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`;

/** Does a text contain what Postgres cannot store in `jsonb`/`text`: NUL or a UTF-16 surrogate alone? */
export const hasUnstorable = (text: string) =>
  // biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is exactly what this looks for.
  /\u0000|\\u0000/.test(text) ||
  /(?:[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF])/.test(text);

/** Percent-encodes every byte of a string's UTF-16 units as a server would see them, lone surrogates included. */
export function percentEncode(text: string): string {
  let out = "";
  for (const char of text) {
    const code = char.codePointAt(0)!;
    if (/^[A-Za-z0-9_.~-]$/.test(char)) out += char;
    else if (code >= 0xd800 && code <= 0xdfff) {
      // A lone surrogate: its CESU-8 bytes, which are not valid UTF-8.
      out +=
        `%${(0xe0 | (code >> 12)).toString(16)}%${(0x80 | ((code >> 6) & 0x3f)).toString(16)}%${(0x80 | (code & 0x3f)).toString(16)}`.toUpperCase();
    } else
      for (const byte of Buffer.from(char, "utf8"))
        out += `%${byte.toString(16).padStart(2, "0").toUpperCase()}`;
  }
  return out;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/**
 * One HTTP request with full control of path, headers (Host included) and body bytes; resolves with
 * `undefined` when Node's own client refuses to send it (an invalid header character, say).
 */
export function rawRequest(
  baseUrl: string,
  options: { method: string; path: string; headers?: Record<string, string>; body?: string | Buffer },
): Promise<RawResponse | undefined> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    let req: ReturnType<typeof request>;
    try {
      req = request(
        {
          host: url.hostname,
          port: url.port,
          method: options.method,
          path: options.path,
          headers: {
            ...(options.body !== undefined
              ? { "content-length": String(Buffer.byteLength(options.body)) }
              : {}),
            ...options.headers,
          },
          setHost: !options.headers || !Object.keys(options.headers).some((h) => h.toLowerCase() === "host"),
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("end", () =>
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              text: Buffer.concat(chunks).toString("utf8"),
            }),
          );
          res.on("error", reject);
        },
      );
    } catch {
      resolve(undefined);
      return;
    }
    req.on("error", reject);
    req.end(options.body);
  });
}

/** Things no answer may contain: stack frames, SQL, database and file names, ARNs, internal identifiers. */
const LEAKS: Array<[string, RegExp]> = [
  ["stack frame", /\bat [\w.<>]+ \(|\bat (?:file|node):|\.(?:ts|js|mjs):\d+/],
  ["stack", /"stack"/],
  ["postgres", /postgres|PostgresError|pg_|\bSQLSTATE\b/i],
  [
    "SQL",
    /\bselect\b[\s\S]*\bfrom\b|\binsert into\b|\bdelete from\b|\bupdate \w+ set\b|syntax error|\brelation "|violates|duplicate key|invalid input syntax/i,
  ],
  ["schema", /\beventbus\.\w+/],
  // Linux paths only: the bus runs on Linux (Lambda, Fargate, CI). A Windows pattern (`[A-Z]:\\`) matched
  // JSON's own escapes of echoed input, such as `N:\\\"` for an echoed `N:"` quoted inside a message.
  ["file path", /\/(?:work|home|usr|tmp|var)\/|node_modules/],
  ["ARN", /arn:aws/],
  [
    "internal error text",
    /TypeError|RangeError|ReferenceError|Cannot read propert|undefined is not|Maximum call stack/,
  ],
];

/**
 * What an answer leaks, after taking out what the client sent itself (an echoed stream id may well say
 * "postgres"). Returns the name of the first rule broken, or `undefined`.
 */
export function leakIn(text: string, echoes: readonly string[] = []): string | undefined {
  let scrubbed = text;
  for (const echo of echoes) {
    if (echo.length < 3) continue;
    scrubbed = scrubbed.split(echo).join("");
    // The answer is JSON: the echo may appear escaped, or escaped twice when a message quotes it.
    const escaped = JSON.stringify(echo).slice(1, -1);
    scrubbed = scrubbed.split(escaped).join("");
    scrubbed = scrubbed.split(JSON.stringify(escaped).slice(1, -1)).join("");
  }
  return LEAKS.find(([, pattern]) => pattern.test(scrubbed))?.[0];
}

/**
 * The contract every HTTP answer keeps: below 500; an error is `application/problem+json` whose `code`
 * is one of `lib/errors.ts` and matches the status. Returns a description of the breach, or `undefined`.
 */
export function problemBreach(response: RawResponse, echoes: readonly string[] = []): string | undefined {
  if (response.status >= 500) return `status ${response.status}: ${response.text.slice(0, 300)}`;
  const leak = leakIn(response.text, echoes);
  if (leak) return `leaks ${leak}: ${response.text.slice(0, 300)}`;
  if (response.status < 400) return undefined;
  if (!String(response.headers["content-type"]).startsWith("application/problem+json")) {
    return `error without problem+json: ${response.headers["content-type"]}`;
  }
  let body: { code?: string; status?: number; detail?: unknown };
  try {
    body = JSON.parse(response.text);
  } catch {
    return `unparsable error body: ${response.text.slice(0, 200)}`;
  }
  const code = body.code as keyof typeof errorStatus | undefined;
  if (!code || !(code in errorStatus)) return `unknown code ${String(body.code)}`;
  if (errorStatus[code] !== response.status) return `code ${code} with status ${response.status}`;
  if (typeof body.detail !== "string" || body.detail.length === 0) return "error without detail";
  return undefined;
}
