/**
 * `npm run token -- --scope "events:read events:write" --streams "orders-*" --expires 1d`
 * Prints an HS256 token signed with `EVENTBUS_JWT_SECRET`, else with the secret `npm run dev` keeps in
 * `.eventbus/jwt-secret`. `--help` prints the usage; bad arguments print one line and exit with 2.
 */
import { parseArgs } from "node:util";
import { DEFAULT_MAX_TOKEN_LIFETIME_SECONDS, issueToken, LOCAL_ISSUER, SCOPES } from "../auth/token.ts";
import { localJwtSecret, stateDir } from "./localState.ts";

const USAGE = `Usage: npm run token -- [options]

Prints a signed token (HS256, EVENTBUS_JWT_SECRET or the secret npm run dev keeps in .eventbus/).

Options:
  --scope <scopes>     space-separated scopes (default "admin"); known: ${SCOPES.join(", ")}
  --streams <glob>     bound the streams and topics the token may touch (repeatable), e.g. "orders-*"
  --subject <sub>      the token's subject (default "local-user")
  --expires <time>     lifetime: <n>s, <n>m, <n>h or <n>d (default 1d; at most ${DEFAULT_MAX_TOKEN_LIFETIME_SECONDS / 86400}d)
  --issuer <iss>       the token's issuer (default "${LOCAL_ISSUER}")
  --audience <aud>     the token's audience (none by default)
  -h, --help           show this help
`;

/** `30m`, `2h`, `1d`, `45s` (what jose's `setExpirationTime` takes, restricted to what we can check). */
const LIFETIME = /^(\d{1,9})(s|m|h|d)$/;
const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86400 } as const;

function fail(message: string): never {
  process.stderr.write(`token: ${message} (see --help)\n`);
  process.exit(2);
}

let values: {
  scope: string;
  streams?: string[];
  subject: string;
  expires: string;
  issuer: string;
  audience?: string;
  help?: boolean;
};
try {
  ({ values } = parseArgs({
    options: {
      scope: { type: "string", default: "admin" },
      streams: { type: "string", multiple: true },
      subject: { type: "string", default: "local-user" },
      expires: { type: "string", default: "1d" },
      issuer: { type: "string", default: LOCAL_ISSUER },
      audience: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    allowPositionals: false,
  }));
} catch (error) {
  fail((error as Error).message.split("\n")[0]!);
}
if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const unknown = values.scope.split(" ").filter((s) => s && !(SCOPES as readonly string[]).includes(s));
if (unknown.length > 0) fail(`unknown scope(s): ${unknown.join(", ")}; known: ${SCOPES.join(", ")}`);
const lifetime = LIFETIME.exec(values.expires);
if (!lifetime) fail(`--expires '${values.expires}' is not a lifetime like 30m, 2h or 1d`);
const seconds = Number(lifetime[1]) * UNIT_SECONDS[lifetime[2] as keyof typeof UNIT_SECONDS];
if (seconds < 1 || seconds > DEFAULT_MAX_TOKEN_LIFETIME_SECONDS) {
  fail(`--expires must be between 1s and ${DEFAULT_MAX_TOKEN_LIFETIME_SECONDS / 86400}d`);
}
const secret = localJwtSecret(stateDir(), process.env.EVENTBUS_JWT_SECRET);
const token = await issueToken(secret, {
  scope: values.scope,
  subject: values.subject,
  expiresIn: values.expires,
  issuer: values.issuer,
  ...(values.audience === undefined ? {} : { audience: values.audience }),
  ...(values.streams ? { streams: values.streams } : {}),
});
process.stdout.write(`${token}\n`);
