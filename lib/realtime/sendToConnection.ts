import type { ApiGatewayManagementApiClient } from "@aws-sdk/client-apigatewaymanagementapi";
import { requireScope } from "../auth/authorize.ts";
import type { Principal } from "../auth/token.ts";
import { EventBusError } from "../errors.ts";
import { deleteConnection } from "./deleteConnection.ts";
import { postFrame } from "./postFrame.ts";
import type { RealtimeTable } from "./table.ts";

/**
 * Sends a message straight to one connection (a server's direct message): `{"type":"message","data":…,
 * "sender":null}`. Needs `realtime:publish` without a `streams` bound, since a connection id names no
 * topic a bound could cover. A connection API Gateway reports gone is removed and reported.
 *
 * @throws {EventBusError} `FORBIDDEN`, `CONNECTION_GONE`, `PAYLOAD_TOO_LARGE`.
 */
export async function sendToConnection(
  deps: { table: RealtimeTable; api: ApiGatewayManagementApiClient },
  principal: Principal,
  connectionId: string,
  data: unknown,
): Promise<void> {
  requireScope(principal, "realtime:publish");
  if (principal.streams !== undefined) {
    throw new EventBusError(
      "FORBIDDEN",
      "A token bounded by 'streams' may not message connections directly.",
    );
  }
  const outcome = await postFrame(deps.api, connectionId, { type: "message", data, sender: null });
  if (outcome === "gone") {
    await deleteConnection(deps.table, connectionId, { api: deps.api });
    throw new EventBusError("CONNECTION_GONE", `Connection '${connectionId}' is gone.`, { connectionId });
  }
}
