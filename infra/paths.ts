import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root: Lambda entries, the listener's Docker build context and the lock file live here. */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..");
