import { requireScope } from "../auth/authorize.ts";
import type { Principal } from "../auth/token.ts";
import { EventBusError } from "../errors.ts";

/**
 * Subscriptions span every stream, so managing them needs `subscriptions:manage` on a token that is not
 * bounded to some streams.
 * @throws {EventBusError} `FORBIDDEN`.
 */
export function requireSubscriptionAdmin(principal: Principal): void {
  requireScope(principal, "subscriptions:manage");
  if (principal.streams !== undefined && !principal.streams.includes("*")) {
    throw new EventBusError(
      "FORBIDDEN",
      "Tokens bounded by a 'streams' claim cannot manage subscriptions, which span every stream.",
    );
  }
}
