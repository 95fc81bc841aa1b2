import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { hasScope } from "../auth/authorize.ts";
import type { TokenVerifier } from "../auth/token.ts";
import { EventBusError, isEventBusError } from "../errors.ts";
import { authorizeSubscribe } from "./authorizeTopic.ts";
import type { Connection } from "./connection.ts";
import { listConnectionTopics } from "./listConnectionTopics.ts";
import { touchPresenceDirectory } from "./presenceDirectory.ts";
import { presenceMemberKey, presenceTopicsOf } from "./presenceTable.ts";
import {
  connectionKey,
  connectionTopicKey,
  expiresAtFor,
  type RealtimeTable,
  topicMemberKey,
} from "./table.ts";
import { parseTopic } from "./topic.ts";
import { bumpGeneration } from "./topicDirectory.ts";

/**
 * Replaces a connection's token with a fresh one (the `auth` frame), so that it stays open past the old
 * token's expiry. The fresh token must be for the same subject and is authorised again from scratch: the
 * connection takes the new token's scopes and `streams` bound, and every topic it is subscribed to must be
 * allowed under them. A token that would not allow one of them is refused and changes nothing, so a fresh
 * token can never widen a connection beyond what that token itself allows.
 *
 * @throws {EventBusError} `UNAUTHORIZED` (invalid or expired token, connection gone), `FORBIDDEN` (another
 * subject, no realtime scope, or a subscribed topic the new token does not cover).
 */
export async function reauthenticate(
  deps: { table: RealtimeTable; verifyToken: TokenVerifier },
  connection: Connection,
  token: string,
): Promise<Connection> {
  const principal = await deps.verifyToken(token);
  if (principal.subject !== connection.subject) {
    throw new EventBusError(
      "FORBIDDEN",
      "A fresh token must be for the subject this connection authenticated as.",
    );
  }
  if (!hasScope(principal, "realtime:subscribe") && !hasScope(principal, "realtime:publish")) {
    throw new EventBusError(
      "FORBIDDEN",
      "The fresh token has neither 'realtime:subscribe' nor 'realtime:publish'.",
    );
  }
  const topics = await listConnectionTopics(deps.table, connection.connectionId);
  // Presences are found through their slots (see presenceTable.ts); `connection` is the stored item.
  const presences = presenceTopicsOf((connection as { topics?: Set<string> }).topics);
  for (const topic of [...topics, ...presences]) {
    try {
      authorizeSubscribe(principal, parseTopic(topic));
    } catch (error) {
      if (!isEventBusError(error)) throw error;
      throw new EventBusError(
        "FORBIDDEN",
        `The fresh token does not allow the topic '${topic}' this connection is subscribed to (or present on); unsubscribe from (or leave) it first.`,
        { topic },
      );
    }
  }
  const updated: Connection = {
    ...connection,
    scopes: [...principal.scopes],
    tokenExpiresAt: principal.expiresAt ?? connection.tokenExpiresAt,
    expiresAt: expiresAtFor(connection.connectedAt, principal.expiresAt ?? connection.tokenExpiresAt),
  };
  if (principal.streams === undefined) delete updated.streams;
  else updated.streams = [...principal.streams];

  await update(deps.table, connectionKey(connection.connectionId), updated, true);
  // Memberships carry the bound and the expiry too (the broadcaster reads nothing else).
  await Promise.all(
    topics.flatMap((topic) => [
      update(deps.table, topicMemberKey(topic, connection.connectionId), updated, true),
      update(deps.table, connectionTopicKey(connection.connectionId, topic), updated, false),
    ]),
  );
  await Promise.all(topics.map((topic) => bumpGeneration(deps.table, topic)));
  // Presences live as long as the connection: a listing leaves out members whose items have expired.
  await Promise.all(
    presences.flatMap((topic) => [
      update(deps.table, presenceMemberKey(topic, connection.connectionId), updated, false, true),
      touchPresenceDirectory(deps.table, topic, connection.connectionId, updated.expiresAt),
    ]),
  );
  return updated;
}

async function update(
  { dynamo, tableName }: RealtimeTable,
  Key: { pk: string; sk: string },
  connection: Connection,
  withPrincipal: boolean,
  withTokenExpiry = false,
): Promise<void> {
  const isConnectionItem = Key.sk === "meta";
  const sets = ["expiresAt = :expiresAt"];
  const values: Record<string, unknown> = { ":expiresAt": connection.expiresAt };
  if (withTokenExpiry && !withPrincipal) {
    sets.push("tokenExpiresAt = :tokenExpiresAt");
    values[":tokenExpiresAt"] = connection.tokenExpiresAt;
  }
  let remove = "";
  if (withPrincipal) {
    sets.push("tokenExpiresAt = :tokenExpiresAt");
    values[":tokenExpiresAt"] = connection.tokenExpiresAt;
    if (isConnectionItem) {
      sets.push("scopes = :scopes");
      values[":scopes"] = connection.scopes;
    }
    if (connection.streams === undefined) remove = " REMOVE streams";
    else {
      sets.push("streams = :streams");
      values[":streams"] = connection.streams;
    }
  }
  try {
    await dynamo.send(
      new UpdateCommand({
        TableName: tableName,
        Key,
        UpdateExpression: `SET ${sets.join(", ")}${remove}`,
        // Never resurrect an item a disconnect or unsubscribe removed meanwhile.
        ConditionExpression: "attribute_exists(pk)",
        ExpressionAttributeValues: values,
      }),
    );
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
    if (isConnectionItem)
      throw new EventBusError("UNAUTHORIZED", "This connection is not registered; reconnect.");
  }
}
