import { EventBusError } from "../errors.ts";
import { allowedByPatterns } from "./streamPatterns.ts";
import type { Principal, Scope } from "./token.ts";

export const hasScope = (principal: Principal, scope: Scope): boolean =>
  principal.scopes.has("admin") || principal.scopes.has(scope);

/** @throws {EventBusError} `FORBIDDEN` unless the principal holds `scope`. */
export function requireScope(principal: Principal, scope: Scope): void {
  if (!hasScope(principal, scope)) {
    throw new EventBusError("FORBIDDEN", `This token lacks the '${scope}' scope.`, { requiredScope: scope });
  }
}

/** @throws {EventBusError} `FORBIDDEN` unless the principal holds `scope` and its `streams` bound covers `resource`. */
export function requireAccess(principal: Principal, scope: Scope, resource: string): void {
  requireScope(principal, scope);
  if (!allowedByPatterns(principal.streams, resource)) {
    throw new EventBusError("FORBIDDEN", `This token may not touch '${resource}'.`, { resource });
  }
}
