import { httpHandler, json } from "../../lib/http/httpHandler.ts";
import { authorizeSubscribe } from "../../lib/realtime/authorizeTopic.ts";
import { listPresence } from "../../lib/realtime/listPresence.ts";
import { parsePresenceTopic } from "../../lib/realtime/presenceTable.ts";
import { realtimeTable } from "../../lib/realtime/wsHandler.ts";
import { getRuntime } from "../shared/runtime.ts";

/** GET /topics/{topic}/presence: who is present on a topic, as a `presence.sync` would list them. */
export const handler = httpHandler(getRuntime, async (request, runtime) => {
  const topic = parsePresenceTopic(request.path("topic"));
  authorizeSubscribe(request.principal, { kind: "ephemeral", name: topic });
  return json(200, { topic, members: await listPresence(realtimeTable(runtime), topic) });
});
