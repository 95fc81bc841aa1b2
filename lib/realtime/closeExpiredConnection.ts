import {
  type ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
} from "@aws-sdk/client-apigatewaymanagementapi";
import { deleteConnection } from "./deleteConnection.ts";
import type { FrameId, ServerFrame } from "./frames.ts";
import { isGone, postFrame } from "./postFrame.ts";
import type { RealtimeTable } from "./table.ts";

/** What a client whose token expired is told before its connection is closed. */
export const TOKEN_EXPIRED_MESSAGE =
  "The connection's token has expired; the connection is closed. Reconnect with a fresh token, or send " +
  '{"action":"auth","token":"..."} before the token expires to stay connected.';

/**
 * Closes a connection whose token has expired: an `UNAUTHORIZED` error frame (`TOKEN_EXPIRED_MESSAGE`),
 * then its items are removed (rather than left to the best-effort `$disconnect`), then `DeleteConnection`
 * on `@connections` (API Gateway closes the socket with 1000, the only close code it uses for it). Used on every frame and by the broadcaster before posting, since
 * Lambda has no timers to do it at the moment of expiry.
 */
export async function closeExpiredConnection(
  table: RealtimeTable,
  api: ApiGatewayManagementApiClient,
  connectionId: string,
  options: { id?: FrameId; onError?: (error: unknown) => void } = {},
): Promise<void> {
  const frame: ServerFrame = {
    type: "error",
    ...(options.id === undefined ? {} : { id: options.id }),
    code: "UNAUTHORIZED",
    message: TOKEN_EXPIRED_MESSAGE,
  };
  await postFrame(api, connectionId, frame).catch(options.onError);
  // The items go first, so that no broadcast finds the connection while it is being closed.
  await deleteConnection(table, connectionId, {
    api,
    ...(options.onError ? { onError: options.onError } : {}),
  });
  await api.send(new DeleteConnectionCommand({ ConnectionId: connectionId })).catch((error: unknown) => {
    if (!isGone(error)) options.onError?.(error);
  });
}
