import { strict as assert } from "node:assert";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureDevCerts, startLocalBroker } from "@medusa/adapters/broker";
import { loadConfig, startDevice } from "@medusa/device";
import { parseSensorPayload, samplesOf } from "@medusa/domain";
import { Either } from "effect";

// A stand-in for AWS IoT Core: TLS with a throw-away CA, the IoT policy's topic rules.
const dir = mkdtempSync(join(tmpdir(), "medusa-device-example-"));
const certs = await ensureDevCerts(join(dir, "certs"), ["medusa-pi-01"]);
const broker = await startLocalBroker({ port: 0, tls: { ca: certs.ca, ...certs.server } });
const sequences: number[] = [];
broker.aedes.on("publish", (packet) => {
  if (packet.topic !== "medusa/medusa-pi-01/sensor/data") return;
  const payload = Either.getOrThrow(parseSensorPayload(packet.payload.toString()));
  sequences.push(...samplesOf(payload, Date.now()).map((s) => s.sequence));
});

// The old publisher's keys, plus the synthetic sensor and an outbox in the temporary folder.
const client = certs.paths.clients["medusa-pi-01"]!;
writeFileSync(
  join(dir, "mqtt_publisher.toml"),
  `[mqtt]
broker_host = "127.0.0.1"
broker_port = ${broker.port}
client_id = "medusa-pi-01"
ca_cert = "${certs.paths.ca}"
client_cert = "${client.cert}"
client_key = "${client.key}"

[sensor]
kind = "synthetic"
sample_rate_hz = 50

[outbox]
path = "${join(dir, "outbox")}"
`,
);
const config = Either.getOrThrow(loadConfig(join(dir, "mqtt_publisher.toml")));
const device = await startDevice(config, { log: () => {} });
await new Promise((r) => setTimeout(r, 3_000));
await device.stop(); // as on SIGTERM: what is pending is published, or kept in the outbox
await broker.close();
rmSync(dir, { recursive: true, force: true });

// Three seconds at 50 Hz: about 150 samples, in batches of one second, numbered 0, 1, 2, … without a gap.
assert.ok(sequences.length >= 140, `only ${sequences.length} samples arrived`);
assert.deepEqual(
  sequences,
  sequences.map((_, i) => i),
);
