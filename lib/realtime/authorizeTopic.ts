import { requireAccess, requireScope } from "../auth/authorize.ts";
import type { Principal } from "../auth/token.ts";
import { validationFailed } from "../errors.ts";
import type { Topic } from "./topic.ts";

/**
 * May this principal subscribe to the topic? Ephemeral topics need `realtime:subscribe` and a `streams`
 * bound (if any) covering the topic name. Event topics carry stored events, so they also need
 * `events:read`; a `stream:` topic needs the bound to cover the stream, while `category:` and `$all` are
 * allowed and deliver only the events of streams the bound covers (as `GET /events` does). A wildcard
 * needs `realtime:subscribe`; each message it matches is then delivered only if the bound covers that
 * message's topic (`allowedByPatterns` in the broadcaster), the check a direct subscribe makes.
 *
 * @throws {EventBusError} `FORBIDDEN`.
 */
export function authorizeSubscribe(principal: Principal, topic: Topic): void {
  switch (topic.kind) {
    case "ephemeral":
      requireAccess(principal, "realtime:subscribe", topic.name);
      return;
    case "wildcard":
      requireScope(principal, "realtime:subscribe");
      return;
    case "stream":
      requireScope(principal, "realtime:subscribe");
      requireAccess(principal, "events:read", topic.streamId);
      return;
    default:
      requireScope(principal, "realtime:subscribe");
      requireScope(principal, "events:read");
  }
}

/**
 * May this principal publish to the topic? Needs `realtime:publish` and a bound covering the topic name.
 * Event topics are refused: appending is how events enter streams.
 *
 * @throws {EventBusError} `VALIDATION_FAILED` for an event topic, `FORBIDDEN`.
 */
export function authorizePublish(principal: Principal, topic: Topic): void {
  if (topic.kind === "wildcard") {
    throw validationFailed(
      `'${topic.name}' is a wildcard: publish to one topic (e.g. '${topic.prefix}.a'); its subscribers and those of '${topic.name}' get it.`,
      { field: "topic", rule: "no wildcard", topic: topic.name },
    );
  }
  if (topic.kind !== "ephemeral") {
    throw validationFailed(
      `'${topic.name}' carries stored events; append to a stream instead of publishing to it.`,
      { topic: topic.name },
    );
  }
  requireAccess(principal, "realtime:publish", topic.name);
}
