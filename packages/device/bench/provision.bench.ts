// pnpm bench:provision — 100 devices provisioning by claim at once against the local
// broker's fleet provisioning emulation; the last line is the figures as JSON.
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import {
  createCertificateRegistry,
  createDevCa,
  issueClaimCertificate,
  issueServerCert,
  startFleetProvisioning,
  startLocalBroker,
} from "@medusa/adapters/broker";
import { makeInMemoryAllowList } from "@medusa/adapters/testing";
import {
  AllowList,
  checkPreProvisioning,
  epochMillis,
  fleetProvisioningTemplate,
  hookResponse,
  SerialNumber,
  TemplateName,
} from "@medusa/domain";
import { Effect, Layer, Schema } from "effect";
import { provisionDevice } from "../src/provisioning.js";

const DEVICES = Number(process.env.DEVICES ?? 100);
const TEMPLATE = Schema.decodeSync(TemplateName)("medusa-fleet");

const work = mkdtempSync(join(tmpdir(), "medusa-bench-provision-"));
try {
  const loadBefore = loadavg()[0] ?? 0;
  const ca = await createDevCa();
  const registry = createCertificateRegistry();
  const allowList = makeInMemoryAllowList();
  const serials = Array.from({ length: DEVICES }, (_, i) =>
    Schema.decodeSync(SerialNumber)(`10000000${String(i).padStart(8, "0")}`),
  );
  await Effect.runPromise(
    allowList.add(serials.map((serialNumber) => ({ serialNumber, addedAt: epochMillis(1) }))),
  );
  const broker = await startLocalBroker({
    tls: { ca: ca.cert, ...(await issueServerCert(ca)) },
    principalOf: registry.principalOf,
  });
  const provisioning = startFleetProvisioning(broker, {
    ca,
    registry,
    templates: {
      [TEMPLATE]: {
        body: fleetProvisioningTemplate({
          devicePolicyNames: [
            "medusa-local-device",
            "medusa-local-device-shadow",
            "medusa-local-device-jobs",
          ],
        }),
        preProvisioningHook: (event) =>
          Effect.runPromise(
            checkPreProvisioning(event).pipe(
              Effect.map(hookResponse),
              Effect.provide(Layer.succeed(AllowList, allowList)),
            ),
          ),
      },
    },
  });
  const claim = await issueClaimCertificate(ca, registry, [TEMPLATE]);
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  const results = await Promise.allSettled(
    serials.map(async (serialNumber) => {
      const t0 = performance.now();
      const r = await provisionDevice({
        broker: { host: "127.0.0.1", port: broker.port, caPem: ca.cert },
        claim: { certPem: claim.cert, keyPem: claim.key },
        template: TEMPLATE,
        serialNumber,
        dir: join(work, serialNumber),
        maxAttempts: 5,
        backoff: { baseMs: 200, capMs: 2_000 },
      });
      return { ms: performance.now() - t0, thing: r.thingName };
    }),
  );
  const wallMs = performance.now() - started;
  // The process's CPU time (all threads: the broker, the 100 simulated devices, libuv's pool):
  // what the work costs, apart from how busy the machine was.
  const cpu = process.cpuUsage(cpuBefore);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  provisioning.stop();
  await broker.close();

  const ok = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  const failed = results.length - ok.length;
  const times = ok.map((r) => r.ms).sort((a, b) => a - b);
  const pct = (p: number) =>
    times[Math.min(times.length - 1, Math.ceil(p * times.length) - 1)] ?? 0;
  const things = registry.things();
  // A duplicate: a serial that became more than one thing, or a thing with more than one certificate.
  const bySerial = new Map<string, number>();
  for (const t of things)
    bySerial.set(
      t.attributes.serial_number ?? "",
      (bySerial.get(t.attributes.serial_number ?? "") ?? 0) + 1,
    );
  const duplicates =
    [...bySerial.values()].filter((n) => n > 1).length +
    things.filter((t) => t.principals.length > 1).length;
  const figures = {
    devices: DEVICES,
    provision_p50_ms: Math.round(pct(0.5)),
    provision_p99_ms: Math.round(pct(0.99)),
    provision_max_ms: Math.round(pct(1)),
    wall_ms: Math.round(wallMs),
    cpu_ms: Math.round(cpuMs),
    things_created: provisioning.stats().thingsCreated,
    certificates_issued: provisioning.stats().certificatesIssued,
    rejected: provisioning.stats().rejected,
    failed,
    duplicates,
  };
  console.log(
    `fleet provisioning by claim — ${DEVICES} devices at once (key, CSR, CreateCertificateFromCsr, RegisterThing with the allow-list hook, each over its own mutual-TLS connection) against the local broker's emulation in this process; Node ${process.version}, ${cpus().length} CPU(s), load average ${loadBefore.toFixed(2)} before, ${(loadavg()[0] ?? 0).toFixed(2)} after\n`,
  );
  const rows: Array<[string, string, string]> = [
    ["what", "target", "measured"],
    [
      "provision p99",
      "< 3,000 ms",
      `${figures.provision_p99_ms} ms (p50 ${figures.provision_p50_ms}, max ${figures.provision_max_ms}, all in ${figures.wall_ms} ms)`,
    ],
    [
      "CPU time",
      "",
      `${figures.cpu_ms} ms for all ${DEVICES} (broker and devices; ${(cpuMs / DEVICES).toFixed(1)} ms a device)`,
    ],
    ["things created", `${DEVICES}`, `${figures.things_created}`],
    ["duplicates", "0", `${duplicates}`],
    ["failed", "0", `${failed}`],
    ["certificates issued", `${DEVICES}`, `${figures.certificates_issued}`],
  ];
  const w = [0, 1].map((c) => Math.max(...rows.map((r) => r[c]?.length ?? 0)));
  for (const [a, b, c] of rows) console.log(`${a.padEnd(w[0] ?? 0)}  ${b.padEnd(w[1] ?? 0)}  ${c}`);
  console.log(JSON.stringify(figures));
} finally {
  rmSync(work, { recursive: true, force: true });
}
