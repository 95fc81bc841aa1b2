import { Logger } from "@aws-lambda-powertools/logger";
import type { PresenceDeps } from "../../lib/realtime/enterPresence.ts";

const logger = new Logger({ serviceName: "eventbus-ws" });

/** What the presence routes hand to lib/realtime: the route's clients, and a log line per undelivered diff. */
export const presenceDeps = ({ table, api, send }: Omit<PresenceDeps, "onError">): PresenceDeps => ({
  table,
  api,
  send,
  onError: (error, connectionId) =>
    logger.warn("presence frame not delivered", { connectionId, error: error as Error }),
});
