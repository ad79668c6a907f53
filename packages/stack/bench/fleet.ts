// A fleet of simulated device agents in one process (the benchmark's second
// process, so the stack's CPU is measured apart from the devices'). Arguments:
// configuration files. Stops every agent cleanly on SIGTERM.
import { loadConfig, startDevice } from "@medusa/device";
import { Either } from "effect";

// Real devices are not switched on in the same millisecond: starts are spread
// over one publish interval (1 s), and so are their batches, as in a fleet.
const files = process.argv.slice(2);
const devices = await Promise.all(
  files.map(async (file, i) => {
    await new Promise((r) => setTimeout(r, (i * 1_000) / files.length));
    return startDevice(Either.getOrThrow(loadConfig(file, { env: {} })), { log: () => {} });
  }),
);
process.stdout.write(`fleet started ${devices.length}\n`);
process.once("SIGTERM", () => {
  Promise.all(devices.map((d) => d.stop())).then(
    () => process.exit(0),
    (e: unknown) => {
      process.stderr.write(`fleet: stopping failed: ${String(e)}\n`);
      process.exit(1);
    },
  );
});
