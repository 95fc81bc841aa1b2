/** Where the listener reports what it does; the entry point plugs in a structured logger. */
export type ListenerLog = (
  level: "debug" | "info" | "warn" | "error",
  message: string,
  fields?: Record<string, unknown>,
) => void;

export const silentLog: ListenerLog = () => {};
