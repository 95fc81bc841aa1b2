import type { z } from "zod";
import { validationFailed } from "./errors.ts";

/**
 * Parses `value` with a zod schema, turning failures into one `VALIDATION_FAILED` error that lists every
 * problem with a JSON pointer, e.g. `{pointer: "/0/type", message: "..."}`.
 */
export function parseWith<T extends z.ZodType>(schema: T, value: unknown, what: string): z.output<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const errors = result.error.issues.map((issue) => ({
    pointer: `/${issue.path.map(String).join("/")}`,
    message: issue.message,
  }));
  const first = errors[0]!;
  throw validationFailed(`${what}: ${first.pointer === "/" ? "" : `${first.pointer} `}${first.message}`, {
    errors,
  });
}
