import {
  AttachPolicyCommand,
  type AttachPolicyCommandInput,
  DescribeCertificateCommand,
  type DescribeCertificateCommandInput,
  IoTClient,
  ListAttachedPoliciesCommand,
  type ListAttachedPoliciesCommandInput,
  ListThingPrincipalsCommand,
  type ListThingPrincipalsCommandInput,
  ListThingsCommand,
  type ListThingsCommandInput,
  ResourceNotFoundException,
} from "@aws-sdk/client-iot";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { migrateDevicePolicies, PolicyMigrationFailed } from "./migrate-policies.js";
import { migrateMain, parseMigrateCommandLine } from "./migrate-policies-cli.js";

const DEV = ["medusa-dev-device", "medusa-dev-device-shadow", "medusa-dev-device-jobs"];
const certId = (n: number) => `${n}`.padStart(64, "c");
const arnOf = (id: string) => `arn:aws:iot:eu-central-1:123456789012:cert/${id}`;

/**
 * AWS IoT as the migration sees it: things with their principals,
 * certificates with their status and policies; pages of one item (so every
 * listing is paginated), and any command named in `failAt` fails once.
 */
class FakeIot {
  readonly client = new IoTClient({ region: "eu-central-1" });
  readonly things = new Map<string, Array<string>>();
  readonly certificates = new Map<string, { status: string; policies: Set<string> }>();
  readonly calls: Array<string> = [];
  readonly failAt = new Set<string>();

  constructor() {
    const mock = mockClient(this.client);
    const guard =
      <I, O>(name: string, f: (input: I) => O) =>
      async (input: I): Promise<O> => {
        this.calls.push(name);
        if (this.failAt.delete(name))
          throw Object.assign(new Error(`injected failure at ${name}`), {
            name: "ThrottlingException",
          });
        return f(input);
      };
    const page = <A>(items: ReadonlyArray<A>, token: string | undefined) => {
      const i = token === undefined ? 0 : Number(token);
      return {
        items: items.slice(i, i + 1),
        next: i + 1 < items.length ? String(i + 1) : undefined,
      };
    };
    const cert = (id: string | undefined) => {
      const c = this.certificates.get(id ?? "");
      if (!c)
        throw new ResourceNotFoundException({ message: `no certificate ${id}`, $metadata: {} });
      return c;
    };
    mock.on(ListThingsCommand).callsFake(
      guard("ListThings", (i: ListThingsCommandInput) => {
        const p = page([...this.things.keys()], i.nextToken);
        return { things: p.items.map((thingName) => ({ thingName })), nextToken: p.next };
      }),
    );
    mock.on(ListThingPrincipalsCommand).callsFake(
      guard("ListThingPrincipals", (i: ListThingPrincipalsCommandInput) => {
        const principals = this.things.get(i.thingName ?? "");
        if (!principals)
          throw new ResourceNotFoundException({
            message: `thing ${i.thingName} not found`,
            $metadata: {},
          });
        const p = page(principals, i.nextToken);
        return { principals: p.items, nextToken: p.next };
      }),
    );
    mock.on(DescribeCertificateCommand).callsFake(
      guard("DescribeCertificate", (i: DescribeCertificateCommandInput) => ({
        certificateDescription: {
          certificateId: i.certificateId,
          status: cert(i.certificateId).status,
        },
      })),
    );
    mock.on(ListAttachedPoliciesCommand).callsFake(
      guard("ListAttachedPolicies", (i: ListAttachedPoliciesCommandInput) => {
        const p = page([...cert(i.target?.split("/").pop()).policies], i.marker);
        return { policies: p.items.map((policyName) => ({ policyName })), nextMarker: p.next };
      }),
    );
    mock.on(AttachPolicyCommand).callsFake(
      guard("AttachPolicy", (i: AttachPolicyCommandInput) => {
        cert(i.target?.split("/").pop()).policies.add(i.policyName ?? "");
        return {};
      }),
    );
  }

  /** A thing with certificates: each its status and policies. */
  add(thing: string, ...certs: Array<{ n: number; status?: string; policies: Array<string> }>) {
    this.things.set(
      thing,
      certs.map((c) => arnOf(certId(c.n))),
    );
    for (const c of certs)
      this.certificates.set(certId(c.n), {
        status: c.status ?? "ACTIVE",
        policies: new Set(c.policies),
      });
  }

  policiesOf(n: number) {
    return [...(this.certificates.get(certId(n))?.policies ?? [])].sort();
  }
}

let iot: FakeIot;
beforeEach(() => {
  iot = new FakeIot();
  // Registered before the split: the base policy only.
  iot.add("pi-old", { n: 1, policies: ["medusa-dev-device"] });
  // Half-migrated by hand: the shadow policy attached, not the jobs one; plus a revoked certificate.
  iot.add(
    "pi-half",
    { n: 2, policies: ["medusa-dev-device", "medusa-dev-device-shadow", "someone-elses"] },
    { n: 3, status: "INACTIVE", policies: ["medusa-dev-device"] },
  );
  // Registered after the split.
  iot.add("pi-new", { n: 4, policies: DEV });
  // Another stage's device, and a thing without certificates.
  iot.add("pi-prod", { n: 5, policies: ["medusa-prod-device"] });
  iot.add("gateway");
});

describe("migrate-device-policies", () => {
  it("attaches the policies each ACTIVE certificate of the stage lacks, and nothing else", async () => {
    const lines: Array<string> = [];
    const r = await migrateDevicePolicies(
      iot.client,
      { policyNames: DEV },
      { log: (l) => lines.push(l) },
    );
    expect(r.attached.map((a) => [a.thingName, a.certificateId, a.policyName])).toEqual([
      ["pi-old", certId(1), "medusa-dev-device-shadow"],
      ["pi-old", certId(1), "medusa-dev-device-jobs"],
      ["pi-half", certId(2), "medusa-dev-device-jobs"],
    ]);
    expect(iot.policiesOf(1)).toEqual([...DEV].sort());
    expect(iot.policiesOf(2)).toEqual([...DEV, "someone-elses"].sort());
    expect(iot.policiesOf(3)).toEqual(["medusa-dev-device"]);
    expect(iot.policiesOf(5)).toEqual(["medusa-prod-device"]);
    expect(r).toMatchObject({ things: 5, certificates: 3, dryRun: false });
    expect(r.skipped).toEqual([
      { thingName: "pi-half", certificateId: certId(3), reason: "certificate is INACTIVE" },
      {
        thingName: "pi-prod",
        certificateId: certId(5),
        reason: "does not carry medusa-dev-device",
      },
    ]);
    expect(lines[0]).toMatch(/^attached medusa-dev-device-shadow to pi-old's certificate /);
    // Idempotent: a second run finds nothing to do.
    iot.calls.length = 0;
    const again = await migrateDevicePolicies(iot.client, { policyNames: DEV });
    expect(again.attached).toEqual([]);
    expect(iot.calls).not.toContain("AttachPolicy");
  });

  it("--dry-run says what it would attach and attaches nothing", async () => {
    const r = await migrateDevicePolicies(iot.client, { policyNames: DEV, dryRun: true });
    expect(r.attached).toHaveLength(3);
    expect(iot.calls).not.toContain("AttachPolicy");
    expect(iot.policiesOf(1)).toEqual(["medusa-dev-device"]);
  });

  it("with thing names, looks at those only (ListThings not called)", async () => {
    const r = await migrateDevicePolicies(iot.client, { policyNames: DEV, things: ["pi-half"] });
    expect(r.attached.map((a) => a.policyName)).toEqual(["medusa-dev-device-jobs"]);
    expect(iot.calls).not.toContain("ListThings");
    expect(iot.policiesOf(1)).toEqual(["medusa-dev-device"]);
  });

  it("a failure names the thing and the step; running again finishes the work", async () => {
    iot.failAt.add("AttachPolicy");
    iot.calls.length = 0;
    const failed = await migrateDevicePolicies(iot.client, { policyNames: DEV }).catch(
      (e: unknown) => e,
    );
    expect(failed).toBeInstanceOf(PolicyMigrationFailed);
    expect(failed).toMatchObject({
      thingName: "pi-old",
      step: `AttachPolicy medusa-dev-device-shadow to ${certId(1)}`,
      attached: [],
    });
    expect((failed as Error).message).toContain(
      "migrate-device-policies failed for thing pi-old at AttachPolicy medusa-dev-device-shadow",
    );
    const r = await migrateDevicePolicies(iot.client, { policyNames: DEV });
    expect(r.attached).toHaveLength(3);
    const missing = await migrateDevicePolicies(iot.client, {
      policyNames: DEV,
      things: ["pi-typo"],
    }).catch((e: unknown) => e);
    expect(missing).toMatchObject({ thingName: "pi-typo", step: "ListThingPrincipals" });
  });

  it("the command: the stage's three policies, --thing, --dry-run, exit codes", async () => {
    expect(parseMigrateCommandLine(["--stage", "prod", "--thing", "a", "--thing", "b"])).toEqual({
      help: false,
      options: {
        policyNames: ["medusa-prod-device", "medusa-prod-device-shadow", "medusa-prod-device-jobs"],
        things: ["a", "b"],
        dryRun: false,
      },
    });
    expect(() => parseMigrateCommandLine(["--stage", "qa"])).toThrow(/one of/);
    expect(() => parseMigrateCommandLine(["--thing", "bad name"])).toThrow(/--thing bad name/);
    const out: Array<string> = [];
    const err: Array<string> = [];
    const io = {
      out: (s: string) => out.push(s),
      err: (s: string) => err.push(s),
      client: () => iot.client,
    };
    expect(await migrateMain(["--dry-run"], io)).toBe(0);
    expect(out.join("")).toContain("would attach medusa-dev-device-jobs to pi-half's certificate");
    expect(out.join("")).toContain(
      "dry run: 5 thing(s), 3 certificate(s) of the stage, 3 policies to attach",
    );
    expect(iot.policiesOf(1)).toEqual(["medusa-dev-device"]);
    // The command's client is destroyed after a run: a fresh fake for the next one.
    iot = new FakeIot();
    iot.add("pi-old", { n: 1, policies: ["medusa-dev-device"] });
    iot.failAt.add("ListThings");
    expect(await migrateMain([], { ...io, client: () => iot.client })).toBe(1);
    expect(err.join("")).toContain("failed for thing (all) at ListThings");
    expect(await migrateMain(["--nope"], io)).toBe(2);
  });
});
