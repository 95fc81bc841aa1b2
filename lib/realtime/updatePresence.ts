import { validationFailed } from "../errors.ts";
import { announcePresence } from "./announcePresence.ts";
import type { Connection } from "./connection.ts";
import { deleteConnection } from "./deleteConnection.ts";
import { type PresenceDeps, putMemberItem } from "./enterPresence.ts";
import type { PresenceUpdateFrame } from "./frames.ts";
import { listPresence } from "./listPresence.ts";
import { touchPresenceDirectory } from "./presenceDirectory.ts";
import { parsePresenceTopic, stateJson } from "./presenceTable.ts";

/**
 * `presence.update`: replaces a present member's state, acknowledges, and tells the other members with
 * `presence.update` (numbered like every change; see `enterPresence`).
 *
 * @throws {EventBusError} `VALIDATION_FAILED` (topic, or not present: enter first), `PAYLOAD_TOO_LARGE`.
 */
export async function updatePresence(
  deps: PresenceDeps,
  connection: Connection,
  frame: Pick<PresenceUpdateFrame, "id" | "topic" | "state">,
): Promise<void> {
  const topic = parsePresenceTopic(frame.topic);
  const state = stateJson(frame.state);
  const { table } = deps;
  const { connectionId } = connection;
  const seq = await touchPresenceDirectory(table, topic, connectionId, connection.expiresAt);
  if (seq === undefined) {
    throw validationFailed(`This connection is not present on '${topic}'; send presence.enter first.`, {
      field: "topic",
      rule: "present",
      topic,
    });
  }
  const stored = await putMemberItem(
    table,
    {
      connectionId,
      topic,
      subject: connection.subject,
      state,
      seq,
      tokenExpiresAt: connection.tokenExpiresAt,
      expiresAt: connection.expiresAt,
    },
    true,
  );
  await deps.send(frame.id === undefined ? { type: "ack" } : { type: "ack", id: frame.id });
  // Not stored: a leave (or a later update) of this connection overtook it, and says what is true now.
  if (!stored) return;
  await announcePresence(
    {
      api: deps.api,
      onGone: (gone) => deleteConnection(table, gone, deps),
      ...(deps.onError ? { onError: deps.onError } : {}),
    },
    await listPresence(table, topic),
    {
      type: "presence.update",
      topic,
      member: { connectionId, subject: connection.subject, state: frame.state, seq },
    },
  );
}
