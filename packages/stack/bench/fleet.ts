// A fleet of simulated device agents in one process (the benchmark's second
// process, so the stack's CPU is measured apart from the devices'). Arguments:
// configuration files. Stops every agent cleanly on SIGTERM.
import { loadConfig, startDevice } from "@medusa/device";
import { Either } from "effect";

const devices = await Promise.all(
  process.argv
    .slice(2)
    .map((file) =>
      startDevice(Either.getOrThrow(loadConfig(file, { env: {} })), { log: () => {} }),
    ),
);
process.stdout.write(`fleet started ${devices.length}\n`);
process.once("SIGTERM", () => {
  void Promise.all(devices.map((d) => d.stop())).then(() => process.exit(0));
});
