/**
 * Wraps a task so that concurrent callers share runs: each call resolves after a run that *started after
 * the call*, and calls arriving while a run is in flight share the next one. At most one run is in flight,
 * however many callers there are. Used for wake-ups and probes, where one run serves everybody who asked
 * before it began. The task's errors are the caller's to swallow inside `task`.
 */
export function coalescedRuns(task: () => Promise<void>): () => Promise<void> {
  let next: { done: Promise<void>; resolve: () => void } | undefined;
  let running = false;

  async function run() {
    running = true;
    try {
      while (next) {
        const round = next;
        next = undefined;
        await task().catch(() => {});
        round.resolve();
      }
    } finally {
      running = false;
    }
  }

  return () => {
    if (!next) {
      let resolve!: () => void;
      const done = new Promise<void>((r) => {
        resolve = r;
      });
      next = { done, resolve };
    }
    const { done } = next;
    if (!running) void run();
    return done;
  };
}
