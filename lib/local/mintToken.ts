/**
 * `npm run token -- --scope "events:read events:write" --streams "orders-*" --expires 1d`
 * Prints an HS256 token signed with `EVENTBUS_JWT_SECRET`, else with the secret `npm run dev` keeps in
 * `.eventbus/jwt-secret`.
 */
import { parseArgs } from "node:util";
import { issueToken, SCOPES } from "../auth/token.ts";
import { localJwtSecret, stateDir } from "./localState.ts";

const { values } = parseArgs({
  options: {
    scope: { type: "string", default: "admin" },
    streams: { type: "string", multiple: true },
    subject: { type: "string", default: "local-user" },
    expires: { type: "string", default: "1d" },
  },
});
const unknown = values.scope.split(" ").filter((s) => s && !(SCOPES as readonly string[]).includes(s));
if (unknown.length > 0) {
  process.stderr.write(`unknown scope(s): ${unknown.join(", ")}; known: ${SCOPES.join(", ")}\n`);
  process.exit(2);
}
const secret = localJwtSecret(stateDir(), process.env.EVENTBUS_JWT_SECRET);
const token = await issueToken(secret, {
  scope: values.scope,
  subject: values.subject,
  expiresIn: values.expires,
  ...(values.streams ? { streams: values.streams } : {}),
});
process.stdout.write(`${token}\n`);
