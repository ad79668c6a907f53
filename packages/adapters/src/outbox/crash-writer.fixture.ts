// Appends to an outbox until killed, printing each id once its append resolved.
import { openOutbox } from "./outbox.js";

const [dir, durability] = process.argv.slice(2) as [string, "fsync" | "batch" | "none"];
const box = await openOutbox({
  dir,
  maxBytes: 64 * 1024 * 1024,
  durability,
  batchMs: 5,
  segmentBytes: 64 * 1024,
});
for (let i = 0; ; i++) {
  const entry = await box.append(
    JSON.stringify({ i, pad: "x".repeat(200) }),
    "medusa/pi/sensor/data",
  );
  process.stdout.write(`${entry.id}\n`);
}
