// The process entry point: runs the command and exits with its code.
import { main } from "./cli.js";

process.exit(await main());
