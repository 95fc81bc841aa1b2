/**
 * Drops the index on event types. Every append paid for it (a third of the secondary index work per event,
 * and with few types all writers insert into the same right-most leaf of each type's range, so concurrent
 * appenders queue on it), and the log's peers do without one: EventStoreDB, Message DB and Marten index
 * streams and positions, not types. Reads by type (`GET /events?type=`) now look at a bounded window of
 * positions per page, as pattern filters do. Categories keep their index: category topics replay their
 * history from it.
 */
export const noTypeIndex = /* sql */ `
drop index if exists eventbus.events_type_position_idx;
`;
