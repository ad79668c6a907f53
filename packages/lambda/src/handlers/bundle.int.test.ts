import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { testTables } from "@medusa/adapters/testing";
import { encodeSampleBatch } from "@medusa/domain";
import { sampleAt, T0 } from "@medusa/domain/testing";
import { afterAll, expect, inject, it } from "vitest";
// @ts-expect-error plain ESM script without types
import { bundle } from "../../scripts/bundle.mjs";

const out = mkdtempSync(join(tmpdir(), "medusa-bundles-"));
afterAll(() => rmSync(out, { recursive: true, force: true }));

it("bundles each handler into one ESM file that runs on its own", async () => {
  const sizes: Array<{ name: string; bytes: number }> = await bundle({ outdir: out, quiet: true });
  expect(sizes.map((s) => s.name)).toEqual(expect.arrayContaining(["ingest", "reattribute"]));
  for (const s of sizes) expect(s.bytes).toBeLessThan(3 * 1024 * 1024);

  const t = await testTables(inject("dynamoEndpoint"));
  Object.assign(process.env, {
    AWS_REGION: "local",
    AWS_ACCESS_KEY_ID: "local",
    AWS_SECRET_ACCESS_KEY: "local",
    AWS_ENDPOINT_URL_DYNAMODB: inject("dynamoEndpoint"),
    MEDUSA_TABLE_PREFIX: t.tables.events.replace("medusa-assignment-events", ""),
  });
  const { handler } = await import(pathToFileURL(join(out, "ingest.mjs")).href);
  const event = {
    ...JSON.parse(encodeSampleBatch([sampleAt(T0, 1), sampleAt(T0 + 100, 2)])),
    topic: "medusa/bundled-pi/sensor/data",
    client_id: "bundled-pi",
    received_at: T0 + 500,
  };
  const result = await handler(event);
  expect(result.statusCode).toBe(200);
  expect(JSON.parse(result.body)).toMatchObject({
    device_id: "bundled-pi",
    status: "stored",
    samples: 2,
  });
  await t.drop();
});
