/**
 * The event topics some WebSocket connection subscribed to lately, so that the listener can tell, in
 * Postgres, which events nobody can receive live and keep them off the realtime fan-out queue.
 *
 * Until now the listener read the realtime topic directory (a DynamoDB BatchGetItem) for every page it
 * forwarded: on AWS one read request per page, and in `npm run dev` most of the listener's CPU (the AWS SDK
 * and the DynamoDB stand-in share the machine with the HTTP handler). A row here is written by the subscribe
 * (after its membership, before its acknowledgement: `lib/realtime/listenedTopics.ts`) and read by the
 * listener after it read a page, so an event committed after an acknowledgement always finds its topic.
 *
 * Rows only ever over-approximate: a topic whose members all left is still listed until the listener
 * forgets it, once no connection that subscribed to it can still be open (API Gateway closes every
 * WebSocket connection after 2 hours).
 */
export const listenedTopics = /* sql */ `
create table eventbus.listened_topics (
  topic text primary key,
  listened_at timestamptz not null default now()
);
`;
