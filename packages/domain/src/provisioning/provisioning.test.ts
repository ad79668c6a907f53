import { Arbitrary, Effect, Either, FastCheck as fc, Layer, Option, Schema } from "effect";
import { describe, expect, it } from "vitest";
import { checkPreProvisioning } from "../application/pre-provisioning.js";
import { epochMillis } from "../ids.js";
import { AllowList, type AllowListService } from "../ports/allow-list.js";
import { StorageUnavailable } from "../ports/storage.js";
import {
  type AllowListEntry,
  decidePreProvisioning,
  type PreProvisioningRequest,
  SerialNumber,
} from "./allow-list.js";
import { type PROVISIONING_ERRORS, provisioningError, rejectionOutcome } from "./messages.js";
import {
  applyProvisioningTemplate,
  fleetProvisioningTemplate,
  serialNumberOf,
} from "./template.js";
import {
  CREATE_CERTIFICATE_FROM_CSR,
  claimPublishTopics,
  claimSubscribeFilters,
  mayClaimConnect,
  mayClaimPublish,
  mayClaimSubscribe,
  registerThingTopics,
  TemplateName,
  templateOfRegisterThing,
} from "./topics.js";

const template = Schema.decodeSync(TemplateName)("medusa-local-fleet");
const serial = Schema.decodeSync(SerialNumber)("10000000abcdef01");
const certificateId = "a".repeat(64);
const claimId = "c".repeat(64);
const runs = Number(process.env.FC_NUM_RUNS ?? 1_000);

describe("the provisioning topics", () => {
  it("are AWS's JSON topics, each with /accepted and /rejected", () => {
    expect(CREATE_CERTIFICATE_FROM_CSR).toEqual({
      request: "$aws/certificates/create-from-csr/json",
      accepted: "$aws/certificates/create-from-csr/json/accepted",
      rejected: "$aws/certificates/create-from-csr/json/rejected",
    });
    expect(registerThingTopics(template).request).toBe(
      "$aws/provisioning-templates/medusa-local-fleet/provision/json",
    );
    expect(templateOfRegisterThing(registerThingTopics(template).request)).toBe(template);
    expect(templateOfRegisterThing("$aws/provisioning-templates/a+b/provision/json")).toBe(
      undefined,
    );
    expect(templateOfRegisterThing(registerThingTopics(template).accepted)).toBe(undefined);
  });

  it("a claim certificate reaches the two requests and their four answers, exactly, and connects as provision-*", () => {
    expect(claimPublishTopics([template])).toEqual([
      "$aws/certificates/create-from-csr/json",
      "$aws/provisioning-templates/medusa-local-fleet/provision/json",
    ]);
    expect(claimSubscribeFilters([template])).toHaveLength(4);
    for (const topic of claimPublishTopics([template]))
      expect(mayClaimPublish([template], topic).allowed).toBe(true);
    for (const filter of claimSubscribeFilters([template]))
      expect(mayClaimSubscribe([template], filter).allowed).toBe(true);
    for (const topic of [
      "medusa/medusa-1/sensor/data",
      "$aws/certificates/create/json",
      "$aws/provisioning-templates/other/provision/json",
      "$aws/things/medusa-1/shadow/update",
    ])
      expect(mayClaimPublish([template], topic).allowed).toBe(false);
    for (const filter of ["#", "$aws/certificates/#", "$aws/certificates/create-from-csr/json/+"])
      expect(mayClaimSubscribe([template], filter).allowed).toBe(false);
    expect(mayClaimConnect("provision-10000000abcdef01").allowed).toBe(true);
    expect(mayClaimConnect("provision-").allowed).toBe(false);
    expect(mayClaimConnect("medusa-10000000abcdef01").allowed).toBe(false);
  });
});

describe("a rejection", () => {
  it("is retried when AWS was busy or failed, needs a new certificate when the token is refused, else is final", () => {
    const of = (kind: keyof typeof PROVISIONING_ERRORS) => provisioningError(kind, "x");
    expect(rejectionOutcome("CreateCertificateFromCsr", of("throttled"))).toBe("retry");
    expect(rejectionOutcome("RegisterThing", of("internal"))).toBe("retry");
    expect(rejectionOutcome("RegisterThing", of("conflict"))).toBe("retry");
    expect(
      rejectionOutcome("RegisterThing", { statusCode: 503, errorCode: "X", errorMessage: "" }),
    ).toBe("retry");
    expect(rejectionOutcome("RegisterThing", of("invalidToken"))).toBe("new-certificate");
    expect(rejectionOutcome("RegisterThing", of("accessDenied"))).toBe("refused");
    expect(rejectionOutcome("RegisterThing", of("templateNotFound"))).toBe("refused");
    expect(rejectionOutcome("CreateCertificateFromCsr", of("invalidCsr"))).toBe("refused");
  });
});

describe("the fleet template", () => {
  it("declares one AWS::IoT::Policy resource per device policy, by name, the first still `policy`", () => {
    const { Resources } = fleetProvisioningTemplate({ devicePolicyNames: ["a", "b", "c"] });
    expect(
      Object.entries(Resources)
        .filter(([, r]) => r.Type === "AWS::IoT::Policy")
        .map(([id, r]) => [id, (r.Properties as { PolicyName?: string }).PolicyName]),
    ).toEqual([
      ["policy", "a"],
      ["policy2", "b"],
      ["policy3", "c"],
    ]);
  });

  const policies = ["medusa-dev-device", "medusa-dev-device-shadow", "medusa-dev-device-jobs"];
  const body = fleetProvisioningTemplate({ devicePolicyNames: policies });

  it("names the thing by the serial number, keeps the serial, activates the certificate, attaches every device policy", () => {
    expect(
      applyProvisioningTemplate(
        JSON.parse(JSON.stringify(body)),
        { SerialNumber: serial },
        certificateId,
      ),
    ).toEqual(
      Either.right({
        thing: { thingName: `medusa-${serial}`, attributes: { serial_number: serial } },
        certificateStatus: "ACTIVE",
        policyNames: policies,
        deviceConfiguration: {},
      }),
    );
  });

  it("for any serial number: the thing is the prefix and the serial, whatever else the device sends", () => {
    fc.assert(
      fc.property(
        Arbitrary.make(SerialNumber),
        fc.dictionary(fc.string(), fc.string()),
        (s, extra) => {
          const outcome = Either.getOrThrow(
            applyProvisioningTemplate(body, { ...extra, SerialNumber: s }, certificateId),
          );
          expect(outcome.thing?.thingName).toBe(`medusa-${s}`);
          expect(serialNumberOf({ SerialNumber: s })).toBe(s);
        },
      ),
      { numRuns: runs },
    );
  });

  it("refuses what it cannot make, with the reason", () => {
    expect(applyProvisioningTemplate(body, {}, certificateId)).toEqual(
      Either.left("parameter SerialNumber is required (thing.ThingName[1]) and was not given"),
    );
    expect(
      Either.getLeft(applyProvisioningTemplate(body, { SerialNumber: "a/b" }, certificateId)),
    ).toEqual(
      Option.some('the thing name "medusa-a/b" is not valid (1-128 characters of [a-zA-Z0-9:_-])'),
    );
    const other = { Resources: { x: { Type: "AWS::IoT::ThingGroup", Properties: {} } } };
    expect(Either.isLeft(applyProvisioningTemplate(other, {}, certificateId))).toBe(true);
    const sub = {
      Resources: { t: { Type: "AWS::IoT::Thing", Properties: { ThingName: { "Fn::Sub": "x" } } } },
    };
    expect(applyProvisioningTemplate(sub, {}, certificateId)).toEqual(
      Either.left("t.ThingName: only strings, Ref and Fn::Join are understood here"),
    );
    expect(() =>
      fleetProvisioningTemplate({ devicePolicyNames: ["p"], thingNamePrefix: "a/" }),
    ).toThrow(/thing name prefix/);
    expect(() => fleetProvisioningTemplate({ devicePolicyNames: [] })).toThrow(/at least one/);
  });
});

describe("the pre-provisioning hook's decision", () => {
  const request = (parameters: Record<string, string>): PreProvisioningRequest => ({
    claimCertificateId: claimId,
    certificateId,
    certificatePem: "-----BEGIN CERTIFICATE-----",
    templateArn: "arn:aws:iot:eu-central-1:123456789012:provisioningtemplate/medusa-dev-fleet",
    clientId: "provision-1",
    parameters,
  });
  const entry = (fields: Partial<AllowListEntry> = {}): AllowListEntry => ({
    serialNumber: serial,
    addedAt: epochMillis(1_700_000_000_000),
    ...fields,
  });

  it("allows a listed serial; refuses an unlisted one, a missing or malformed one, and another batch's claim", () => {
    expect(decidePreProvisioning(request({ SerialNumber: serial }), serial, entry())).toEqual({
      allow: true,
      serialNumber: serial,
      batch: undefined,
    });
    expect(decidePreProvisioning(request({ SerialNumber: serial }), serial, undefined)).toEqual({
      allow: false,
      reason: `serial number ${serial} is not on the allow-list`,
    });
    expect(decidePreProvisioning(request({}), undefined, undefined)).toEqual({
      allow: false,
      reason: "the request has no SerialNumber parameter",
    });
    expect(
      decidePreProvisioning(request({ SerialNumber: "a b" }), undefined, undefined),
    ).toMatchObject({
      allow: false,
      reason: expect.stringContaining("is not a serial number"),
    });
    expect(
      decidePreProvisioning(
        request({ SerialNumber: serial }),
        serial,
        entry({ claimCertificateId: "d".repeat(64), batch: "2026-01" }),
      ),
    ).toMatchObject({
      allow: false,
      reason: expect.stringContaining("may provision only with claim certificate"),
    });
    expect(
      decidePreProvisioning(
        request({ SerialNumber: serial }),
        serial,
        entry({ claimCertificateId: claimId, batch: "b" }),
      ),
    ).toEqual({ allow: true, serialNumber: serial, batch: "b" });
  });

  const listing = (entries: ReadonlyArray<AllowListEntry>, fail = false) => {
    const service: AllowListService = {
      find: (s) =>
        fail
          ? Effect.fail(
              new StorageUnavailable({ store: "allow-list", operation: "find", reason: "down" }),
            )
          : Effect.succeed(Option.fromNullable(entries.find((e) => e.serialNumber === s))),
      add: () => Effect.die("unused"),
      remove: () => Effect.die("unused"),
      list: () => Effect.succeed(entries),
    };
    return Layer.succeed(AllowList, service);
  };

  it("as a use case: decodes the event, looks the serial up, decides; a malformed event is refused with why", async () => {
    const run = (event: unknown, entries: ReadonlyArray<AllowListEntry>, fail = false) =>
      Effect.runPromise(
        Effect.either(checkPreProvisioning(event).pipe(Effect.provide(listing(entries, fail)))),
      );
    const event = request({ SerialNumber: serial });
    expect(await run(event, [entry()])).toEqual(
      Either.right({ allow: true, serialNumber: serial, batch: undefined }),
    );
    expect(await run(event, [])).toEqual(
      Either.right({ allow: false, reason: `serial number ${serial} is not on the allow-list` }),
    );
    expect(await run({ parameters: { SerialNumber: serial } }, [entry()])).toEqual(
      Either.right({
        allow: false,
        reason: expect.stringContaining("not a pre-provisioning hook request"),
      }),
    );
    const failed = await run(event, [], true);
    expect(Either.isLeft(failed) && failed.left._tag).toBe("StorageUnavailable");
  });
});
