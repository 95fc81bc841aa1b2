/**
 * The EventBridge pattern language lives in `lib/patterns/`; subscriptions, WebSocket filters and
 * `GET /events` import it from here.
 */
export { matchesEventPattern } from "../patterns/matchPattern.ts";
export {
  type EventPattern,
  MAX_PATTERN_BYTES,
  MAX_PATTERN_COMBINATIONS,
  MAX_PATTERN_DEPTH,
  type Matcher,
  validateEventPattern,
} from "../patterns/validatePattern.ts";
