import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  localCredentials,
  makeDynamoAllowList,
  makeDynamoClient,
  tableNames,
} from "@medusa/adapters";
import { connectTransport } from "@medusa/adapters/mqtt";
import {
  firstBoot,
  loadConfig,
  ProvisioningRefused,
  type RunningDevice,
  startDevice,
} from "@medusa/device";
import { epochMillis, SerialNumber } from "@medusa/domain";
import { Effect, Either, Schema } from "effect";
import { afterAll, expect, it } from "vitest";
import type { StoredMessage } from "./ingest-rule.js";
import { issueClaim } from "./issue-claim.js";
import { type Stack, startStack } from "./stack.js";
import { api, eventually } from "./testing/stack-client.js";

// The README's "Onboarding a device by claim": allow-list, claim certificate, an agent that
// has nothing else, and the fleet list; an unknown serial; a second boot after a restart.
const dir = mkdtempSync(join(tmpdir(), "medusa-stack-claim-"));
let stack: Stack | undefined;
const running: Array<RunningDevice> = [];
afterAll(async () => {
  await Promise.all(running.map((d) => d.stop()));
  await stack?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const stored: Array<StoredMessage> = [];
const start = () =>
  startStack({
    dir,
    devices: 0,
    apiPort: 0,
    mqttPort: 0,
    dynamoPort: 0,
    consoleDir: false,
    onStored: (m) => stored.push(m),
  });

const SERIAL = Schema.decodeSync(SerialNumber)("10000000c0ffee01");
const UNKNOWN = Schema.decodeSync(SerialNumber)("10000000deadbeef");
const THING = `medusa-${SERIAL}`;

const fleetIds = async (s: Stack) => {
  const page = await api(s, "GET", "/api/devices?limit=200");
  expect(page.status).toBe(200);
  return (page.json.devices as Array<{ device_id: string; connected: boolean }>).map((d) => ({
    id: d.device_id,
    connected: d.connected,
  }));
};

/** The agent as `medusa-device --config FILE` runs it: first boot, then the agent as its thing. */
const boot = async (config: string) => {
  const env = await firstBoot(config, {});
  const loaded = loadConfig(config, { env });
  if (Either.isLeft(loaded)) throw loaded.left;
  return { env, config: loaded.right };
};

it("a fresh agent with only the claim certificate provisions itself, sends data as its thing and appears in the fleet; an unknown serial is refused and makes nothing; a second boot asks nothing", async () => {
  stack = await start();
  const s = stack;
  const issued = await issueClaim({
    dir,
    batch: "2026-11-a",
    mqttPort: s.mqttPort,
    serialNumber: SERIAL,
    out: join(dir, "device-a"),
  });
  expect(issued.made).toBe(true);
  const client = makeDynamoClient({
    endpoint: s.dynamoEndpoint,
    region: "local",
    credentials: localCredentials,
  });
  try {
    await Effect.runPromise(
      makeDynamoAllowList({ client, tables: tableNames() }).add([
        {
          serialNumber: SERIAL,
          batch: "2026-11-a",
          claimCertificateId: issued.certificateId,
          addedAt: epochMillis(Date.now()),
        },
      ]),
    );
  } finally {
    client.destroy();
  }

  // The claim certificate reaches the provisioning topics only: not as a thing.
  const impostor = connectTransport({
    host: "127.0.0.1",
    port: s.mqttPort,
    clientId: THING,
    ca: readFileSync(issued.files.ca, "utf8"),
    cert: readFileSync(issued.files.cert, "utf8"),
    key: readFileSync(issued.files.key, "utf8"),
    backoff: { baseMs: 50, capMs: 200 },
  });
  await eventually(
    () =>
      s.broker.refusals.some(
        (r) =>
          r.action === "connect" && r.client_id === THING && String(r.reason).includes("claim"),
      ),
    "the claim certificate refused as a thing",
  );
  await impostor.close();

  const first = await boot(issued.files.config);
  expect(first.env.AWS_IOT_CLIENT_ID).toBe(THING);
  expect(existsSync(join(issued.out, "provisioning", "device.private.key"))).toBe(true);
  expect(s.registry.thing(THING)?.attributes).toEqual({ serial_number: SERIAL });
  expect(s.provisioning.stats()).toMatchObject({ certificatesIssued: 1, thingsCreated: 1 });

  const device = await startDevice(first.config);
  running.push(device);
  await eventually(() => stored.some((m) => m.clientId === THING), "a batch stored as the thing");
  await eventually(
    async () => (await fleetIds(s)).some((d) => d.id === THING && d.connected),
    "the thing connected in the fleet list",
  );

  // A serial nobody listed: refused with AWS's 403, no thing, nothing in the fleet.
  const stranger = await issueClaim({
    dir,
    batch: "2026-11-a",
    mqttPort: s.mqttPort,
    serialNumber: UNKNOWN,
    out: join(dir, "device-b"),
  });
  expect(stranger.made).toBe(false);
  expect(stranger.certificateId).toBe(issued.certificateId);
  const refused = await boot(stranger.files.config).catch((e: unknown) => e);
  expect(refused).toBeInstanceOf(ProvisioningRefused);
  expect(refused).toMatchObject({
    operation: "RegisterThing",
    statusCode: 403,
    errorCode: "AccessDenied",
  });
  expect(s.registry.things().map((t) => t.thingName)).toEqual([THING]);
  expect(s.registry.thing(`medusa-${UNKNOWN}`)).toBeUndefined();
  const fleet = await fleetIds(s);
  expect(fleet.map((d) => d.id)).toEqual([THING]);

  // A restart of the stack and a second boot: nothing asked, the same thing, data again.
  await device.stop();
  running.length = 0;
  await s.stop();
  stack = undefined;
  stack = await start();
  const again = stack;
  const second = await boot(issued.files.config);
  expect(second.env).toEqual(first.env);
  expect(again.provisioning.stats()).toMatchObject({ certificatesIssued: 0, thingsCreated: 0 });
  expect(again.registry.things().map((t) => t.thingName)).toEqual([THING]);
  stored.length = 0;
  const rebooted = await startDevice({
    ...second.config,
    mqtt: { ...second.config.mqtt, port: again.mqttPort },
  });
  running.push(rebooted);
  await eventually(() => stored.some((m) => m.clientId === THING), "data after the second boot");
}, 240_000);
