/**
 * A subscription remembers why it cannot forward. Until now a queue that was deleted, access that was
 * denied or an SQS endpoint that could not be reached showed only as lag growing, with the reason in the
 * listener's log: the listener retries such failures forever (parking events because the queue is briefly
 * unreachable would be worse than waiting), so the subscription looked merely slow.
 *
 * `failing_since` is set at the first failed send of a streak and cleared by the next send SQS accepts;
 * `last_error` and `last_error_at` keep the newest failure, also after recovery. Existing rows start with
 * none.
 */
export const forwardingErrors = /* sql */ `
alter table eventbus.checkpoints
  add column last_error text,
  add column last_error_at timestamptz,
  add column failing_since timestamptz;
`;
