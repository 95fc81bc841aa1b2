/** The SQL narrowing of a pattern lives in `lib/patterns/`; the listener imports it from here. */
export { patternToSql } from "../patterns/patternToSql.ts";
