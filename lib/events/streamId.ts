import { validationFailed } from "../errors.ts";
import { printable } from "../text/storableText.ts";

/** 1–200 characters of `A-Za-z0-9 _ . : @ -` starting with a letter or digit. */
export const STREAM_ID = /^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,199}$/;

/** `true` for 1–200 characters of `A-Za-z0-9 _ . : @ -` starting with a letter or digit. */
export const isValidStreamId = (value: string): boolean => STREAM_ID.test(value);

/** Throws `VALIDATION_FAILED` unless `value` is a valid stream id. */
export function assertStreamId(value: string | undefined): string {
  if (value === undefined || !isValidStreamId(value)) {
    throw validationFailed(
      `streamId '${printable(value ?? "")}' must be 1-200 characters of A-Z a-z 0-9 _ . : @ - starting with a letter or digit.`,
      { streamId: value ?? null },
    );
  }
  return value;
}

/** The category of a stream: the part before the first `-` (`orders-42` → `orders`). */
export const categoryOf = (streamId: string): string => streamId.split("-", 1)[0] ?? streamId;
