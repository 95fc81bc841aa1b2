/**
 * Persistent subscriptions: the registry (one row per subscription, its definition and queues) and the
 * checkpoints the listener advances (one row per subscription, plus internal forwarders such as the
 * realtime fan-out, which is why checkpoints are not keyed by a foreign key to the registry).
 *
 * `id` is the second key of the session advisory lock that makes one listener the owner of a subscription;
 * an integer from an identity column cannot collide the way a hash of the name could.
 *
 * `generation` fences checkpoint writes against replays: a replay bumps it, and an owner that is still
 * finishing a page from before the replay finds its conditional update matching nothing.
 */
export const subscriptions = /* sql */ `
create table eventbus.subscriptions (
  name text primary key,
  id int generated always as identity (start with 1000) unique,
  definition jsonb not null,
  queue_url text not null,
  dlq_url text not null,
  created_at timestamptz not null default now()
);

create table eventbus.checkpoints (
  name text primary key,
  lock_id int not null,
  position bigint not null,
  generation int not null default 0,
  updated_at timestamptz not null default now()
);
`;
