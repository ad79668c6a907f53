// A fleet of simulated device agents in one process (the benchmark's second
// process, so the stack's CPU is measured apart from the devices'). Arguments:
// configuration files. Stops every agent cleanly on SIGTERM. Started with an
// IPC channel (bench:fleet), it also takes `{ stop: id }` and `{ start: id }`
// and answers `{ stopped: id }` / `{ started: id }` once done.
import { loadConfig, type RunningDevice, startDevice } from "@medusa/device";
import { Either } from "effect";

// Real devices are not switched on in the same millisecond: starts are spread
// over one publish interval (1 s), and so are their batches, as in a fleet.
const files = process.argv.slice(2);
const start = (file: string) =>
  startDevice(Either.getOrThrow(loadConfig(file, { env: {} })), { log: () => {} });
const devices = new Map<string, RunningDevice>();
await Promise.all(
  files.map(async (file, i) => {
    await new Promise((r) => setTimeout(r, (i * 1_000) / files.length));
    const device = await start(file);
    devices.set(device.config.deviceId, device);
  }),
);
const fileOf = new Map<string, string>();
for (const file of files) {
  const config = Either.getOrThrow(loadConfig(file, { env: {} }));
  fileOf.set(config.deviceId, file);
}
process.stdout.write(`fleet started ${devices.size}\n`);

type Control = { readonly stop: string } | { readonly start: string };
process.on("message", (message: Control) => {
  const reply = (m: Record<string, string>) => process.send?.(m);
  if ("stop" in message) {
    const device = devices.get(message.stop);
    devices.delete(message.stop);
    void (device?.stop() ?? Promise.resolve()).then(() => reply({ stopped: message.stop }));
  } else {
    const file = fileOf.get(message.start);
    if (file === undefined || devices.has(message.start)) return;
    void start(file).then((device) => {
      devices.set(message.start, device);
      reply({ started: message.start });
    });
  }
});
process.once("SIGTERM", () => {
  Promise.all([...devices.values()].map((d) => d.stop())).then(
    () => process.exit(0),
    (e: unknown) => {
      process.stderr.write(`fleet: stopping failed: ${String(e)}\n`);
      process.exit(1);
    },
  );
});
