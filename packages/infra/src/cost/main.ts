/** `pnpm cost -- …`: the bill for a fleet, line by line (see cli.ts). */
import { main, USAGE } from "./cli.js";

// `pnpm cost -- --devices 500` hands the `--` on; it separates nothing here.
const argv = process.argv.slice(2).filter((a, i) => !(i === 0 && a === "--"));
try {
  process.exitCode = main(argv);
} catch (e) {
  console.error(`cost: ${e instanceof Error ? e.message : String(e)}\n\n${USAGE}`);
  process.exitCode = 2;
}
