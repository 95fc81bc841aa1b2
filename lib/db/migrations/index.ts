import { eventStore } from "./0001_eventStore.ts";
import { subscriptions } from "./0002_subscriptions.ts";
import { concurrentAppends } from "./0003_concurrentAppends.ts";
import { cloudEventIdentity } from "./0004_cloudEventIdentity.ts";
import { changeCapture } from "./0005_changeCapture.ts";
import { subscriptionState } from "./0006_subscriptionState.ts";
import { appendMany } from "./0007_appendMany.ts";
import { noTypeIndex } from "./0008_noTypeIndex.ts";
import { streamVersionLimit } from "./0009_streamVersionLimit.ts";
import { versionsFromEvents } from "./0010_versionsFromEvents.ts";
import { listenedTopics } from "./0011_listenedTopics.ts";
import { appendsWriteEventsOnly } from "./0012_appendsWriteEventsOnly.ts";
import { safeHeadLooksFurtherOnlyWhenHeld } from "./0014_safeHeadLooksFurtherOnlyWhenHeld.ts";
import { cheaperHeadProbes } from "./0015_cheaperHeadProbes.ts";
import { listenedTopicsHead } from "./0016_listenedTopicsHead.ts";
import { byteOrderText } from "./0017_byteOrderText.ts";
import { forwardingErrors } from "./0018_forwardingErrors.ts";
import { assignedEventIds } from "./0019_assignedEventIds.ts";

/** Numbered, never-edited migrations. Append new ones; never change an applied one. */
export const migrations: ReadonlyArray<{ id: number; name: string; sql: string }> = [
  { id: 1, name: "event_store", sql: eventStore },
  { id: 2, name: "subscriptions", sql: subscriptions },
  { id: 3, name: "concurrent_appends", sql: concurrentAppends },
  { id: 4, name: "cloud_event_identity", sql: cloudEventIdentity },
  { id: 5, name: "change_capture", sql: changeCapture },
  { id: 6, name: "subscription_state", sql: subscriptionState },
  { id: 7, name: "append_many", sql: appendMany },
  { id: 8, name: "no_type_index", sql: noTypeIndex },
  { id: 9, name: "stream_version_limit", sql: streamVersionLimit },
  { id: 10, name: "versions_from_events", sql: versionsFromEvents },
  { id: 11, name: "listened_topics", sql: listenedTopics },
  { id: 12, name: "appends_write_events_only", sql: appendsWriteEventsOnly },
  { id: 14, name: "safe_head_looks_further_only_when_held", sql: safeHeadLooksFurtherOnlyWhenHeld },
  { id: 15, name: "cheaper_head_probes", sql: cheaperHeadProbes },
  { id: 16, name: "listened_topics_head", sql: listenedTopicsHead },
  { id: 17, name: "byte_order_text", sql: byteOrderText },
  { id: 18, name: "forwarding_errors", sql: forwardingErrors },
  { id: 19, name: "assigned_event_ids", sql: assignedEventIds },
];
