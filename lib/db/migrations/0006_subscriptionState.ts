/**
 * Back-pressure made visible: the listener records when it paused a subscription because its queue holds
 * more messages than the configured maximum, and clears it when it resumes. `GET /subscriptions/{name}`
 * shows `state: paused` from it.
 */
export const subscriptionState = /* sql */ `
alter table eventbus.checkpoints add column paused_at timestamptz;
`;
