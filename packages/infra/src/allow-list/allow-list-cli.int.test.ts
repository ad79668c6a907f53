import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { TableNames } from "@medusa/adapters";
import { testTables } from "@medusa/adapters/testing";
import { tempDirs } from "@medusa/adapters/testing/vitest";
import { afterAll, beforeAll, expect, inject, it } from "vitest";
import { main } from "./cli.js";

const temporaryDirectory = tempDirs("medusa-allow-list-");
let endpoint: string;
let tables: TableNames;
let drop: () => Promise<void>;
beforeAll(async () => {
  endpoint = inject("dynamoEndpoint");
  ({ tables, drop } = await testTables(endpoint));
}, 60_000);
afterAll(async () => {
  await drop?.();
});

const run = async (argv: Array<string>) => {
  let out = "";
  let err = "";
  const code = await main([...argv, "--endpoint", endpoint, "--table", tables.allowList], {
    out: (s) => {
      out += s;
    },
    err: (s) => {
      err += s;
    },
    env: {},
    now: () => 1_764_000_000_000,
  });
  return { code, out, err };
};

it("imports a manufacturing list into DynamoDB Local, lists it, imports it again to no effect, removes", async () => {
  const dir = temporaryDirectory();
  const csv = join(dir, "batch.csv");
  writeFileSync(csv, "serial_number,batch\n10000000aaaa0001,2026-01\n10000000aaaa0002,2026-01\n");
  expect(await run(["import", csv])).toMatchObject({
    code: 0,
    out: expect.stringContaining("2 added, 0 listed already"),
  });
  expect(await run(["import", csv, "--batch", "ignored"])).toMatchObject({
    code: 0,
    out: expect.stringContaining("0 added, 2 listed already"),
  });
  expect(await run(["add", "10000000aaaa0003"])).toMatchObject({ code: 0 });
  const listed = await run(["list", "--json"]);
  expect(JSON.parse(listed.out)).toEqual([
    { serialNumber: "10000000aaaa0001", batch: "2026-01", addedAt: 1_764_000_000_000 },
    { serialNumber: "10000000aaaa0002", batch: "2026-01", addedAt: 1_764_000_000_000 },
    { serialNumber: "10000000aaaa0003", addedAt: 1_764_000_000_000 },
  ]);
  expect(await run(["remove", "10000000aaaa0002"])).toMatchObject({ code: 0 });
  const table = await run(["list"]);
  expect(table.out).toContain("10000000aaaa0001");
  expect(table.out).not.toContain("10000000aaaa0002");
  expect(table.out).toContain("2 serial number(s)");
});

it("a list with a bad row changes nothing and names the row", async () => {
  const dir = temporaryDirectory();
  const csv = join(dir, "bad.csv");
  writeFileSync(csv, "serial\n20000000bbbb0001\nbad serial!\n");
  const r = await run(["import", csv]);
  expect(r.code).toBe(2);
  expect(r.err).toMatch(/nothing changed.*\n.*line 3: "bad serial!"/);
  expect((await run(["list", "--json"])).out).not.toContain("20000000bbbb0001");
});

it("a table that is not there is a failure with DynamoDB's reason, exit 1", async () => {
  let err = "";
  const code = await main(["list", "--endpoint", endpoint, "--table", "no-such-allow-list"], {
    out: () => {},
    err: (s) => {
      err += s;
    },
    env: {},
  });
  expect(code).toBe(1);
  expect(err).toMatch(/allow-list table.*list/);
});
