import type { Position } from "./types.ts";

/** A position as a BigInt: positions are 64-bit and the bus may send them as decimal strings. */
export const toBigPosition = (position: Position | bigint): bigint =>
  typeof position === "bigint" ? position : BigInt(position);

/** Negative, zero or positive as `a` is before, at or after `b`. */
export function comparePositions(a: Position | bigint, b: Position | bigint): number {
  const x = toBigPosition(a);
  const y = toBigPosition(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** A position as the JSON value a request takes: a number while it is exact, else its decimal string. */
export function positionParam(position: bigint): number | string {
  return position <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(position) : position.toString();
}
