import type { ApiGatewayManagementApiClient } from "@aws-sdk/client-apigatewaymanagementapi";
import pLimit from "p-limit";
import type { PresenceMember, ServerFrame } from "./frames.ts";
import { POST_CONCURRENCY, postFrame } from "./postFrame.ts";

export interface AnnounceDeps {
  api: ApiGatewayManagementApiClient;
  /** A recipient API Gateway reports gone: remove it (which announces its own leaves). */
  onGone: (connectionId: string) => Promise<void>;
  /** A post that failed otherwise: logged by the caller; the other recipients still get the frame. */
  onError?: (error: unknown, connectionId: string) => void;
}

/**
 * Posts one presence change to every member but the one that changed, straight from the handler (a
 * change reaches at most `MAX_PRESENCE_MEMBERS` connections, so there is no fan-out queue in between).
 */
export async function announcePresence(
  deps: AnnounceDeps,
  members: readonly PresenceMember[],
  frame: Extract<ServerFrame, { member: PresenceMember }>,
): Promise<void> {
  const limit = pLimit(POST_CONCURRENCY);
  await Promise.all(
    members
      .filter((member) => member.connectionId !== frame.member.connectionId)
      .map((member) =>
        limit(async () => {
          try {
            if ((await postFrame(deps.api, member.connectionId, frame)) === "gone") {
              await deps.onGone(member.connectionId);
            }
          } catch (error) {
            deps.onError?.(error, member.connectionId);
          }
        }),
      ),
  );
}
