import htm from "htm";
import { h } from "preact";

/** Tagged-template JSX for Preact (no compile step beyond esbuild's bundling). */
export const html = htm.bind(h);
