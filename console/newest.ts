import { useRef } from "preact/hooks";

/**
 * For screens that load on every click: `const isNewest = begin()` before a request, and apply its answer
 * only `if (isNewest())`. An older request answering late (a slow first page after Next, a search typed
 * while the last one was in flight) would otherwise overwrite what the newest one showed.
 */
export function useNewestOnly(): () => () => boolean {
  const latest = useRef(0);
  return () => {
    const ticket = ++latest.current;
    return () => ticket === latest.current;
  };
}
