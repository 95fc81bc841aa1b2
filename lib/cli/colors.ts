import pc from "picocolors";

/** Colors unless `--no-color`, `NO_COLOR`, or output that is not a terminal (picocolors' own detection). */
export const colors = pc.createColors(!process.argv.includes("--no-color") && pc.isColorSupported);
