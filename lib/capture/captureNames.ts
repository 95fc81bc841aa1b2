import { createHash } from "node:crypto";
import { validationFailed } from "../errors.ts";

/** The one publication of this database's captured tables. */
export const PUBLICATION = "eventbus_capture";

/**
 * The replication slot's name, in SQL. Slots are shared by every database of a server, so the name carries
 * the database's (hashed) name: two buses, or two test databases, on one server never share a slot.
 */
export const slotNameSql = "'eventbus_' || left(md5(current_database()), 16)";

/** A lower-case identifier: it becomes the streams' category and the event types' prefix. */
export const CAPTURE_NAME = /^[a-z][a-z0-9_]{0,62}$/;

/**
 * A capture's name is the category of its streams (`orders-42`) and the prefix of its event types
 * (`orders.inserted`), so it may not contain `-` or `.`.
 * @throws {EventBusError} `VALIDATION_FAILED`.
 */
export function assertCaptureName(name: string): string {
  if (!CAPTURE_NAME.test(name)) {
    throw validationFailed(
      "Invalid capture name: it must match ^[a-z][a-z0-9_]{0,62}$ (it becomes the streams' category).",
      { errors: [{ pointer: "/name", message: "must match ^[a-z][a-z0-9_]{0,62}$" }] },
    );
  }
  return name;
}

const MAX_STREAM_ID = 200;

/** One key value in stream-id characters: anything but `A-Za-z0-9_.-` becomes `@` and its UTF-8 bytes in hex. */
function encodeKeyPart(value: unknown): string {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  let encoded = "";
  for (const char of text) {
    if (/[A-Za-z0-9_.-]/.test(char)) encoded += char;
    else
      for (const byte of Buffer.from(char, "utf8"))
        encoded += `@${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return encoded;
}

/**
 * The stream of one row: `<capture>-<key>`, composite keys joined with `:`. Characters a stream id cannot
 * hold are escaped (`a b` becomes `a@20b`); a key too long for a stream id is cut and suffixed with `@@` and
 * a hash of the whole key, so distinct rows keep distinct streams.
 */
export function rowStreamId(capture: string, keyValues: readonly unknown[]): string {
  const id = `${capture}-${keyValues.map(encodeKeyPart).join(":")}`;
  if (id.length <= MAX_STREAM_ID) return id;
  const hash = createHash("sha256").update(id).digest("hex").slice(0, 32);
  return `${id.slice(0, MAX_STREAM_ID - hash.length - 2)}@@${hash}`;
}
