import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { type Operator, operatorsOf } from "./defineOperator.ts";

/**
 * The operators of a module (a path relative to `root`): `export default [defineOperator(...)]`. A module
 * that cannot be loaded or defines an invalid operator stops the start with its reason.
 */
export async function loadOperators(modulePath: string | undefined, root: string): Promise<Operator[]> {
  if (!modulePath) return [];
  const module = await import(pathToFileURL(resolve(root, modulePath)).href);
  return operatorsOf(module);
}
