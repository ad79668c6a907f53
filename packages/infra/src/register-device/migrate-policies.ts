import {
  AttachPolicyCommand,
  DescribeCertificateCommand,
  type IoTClient,
  ListAttachedPoliciesCommand,
  ListThingPrincipalsCommand,
  ListThingsCommand,
} from "@aws-sdk/client-iot";

export interface MigratePoliciesOptions {
  /**
   * The stage's device policies (`devicePolicyNames(stage)`), the base
   * policy (`medusa-<stage>-device`) first: a certificate that carries it is
   * one of the stage's devices, and gets the others it lacks.
   */
  readonly policyNames: ReadonlyArray<string>;
  /** These things only; every thing of the account (ListThings) when absent. */
  readonly things?: ReadonlyArray<string>;
  /** Say what would be attached, attach nothing. */
  readonly dryRun?: boolean;
}

/** One policy attached (or, in a dry run, that would be) to one thing's certificate. */
export interface PolicyAttachment {
  readonly thingName: string;
  readonly certificateId: string;
  readonly certificateArn: string;
  readonly policyName: string;
}

export interface PolicyMigration {
  readonly dryRun: boolean;
  /** Things looked at. */
  readonly things: number;
  /** ACTIVE certificates of the stage looked at. */
  readonly certificates: number;
  readonly attached: ReadonlyArray<PolicyAttachment>;
  /** Certificates left alone, and why (not ACTIVE, not the stage's). */
  readonly skipped: ReadonlyArray<{
    readonly thingName: string;
    readonly certificateId: string;
    readonly reason: string;
  }>;
}

/** The migration stopped at `step` of `thingName`; `attached` is what it did before (run it again to go on). */
export class PolicyMigrationFailed extends Error {
  override readonly name = "PolicyMigrationFailed";
  constructor(
    readonly thingName: string,
    readonly step: string,
    override readonly cause: unknown,
    readonly attached: ReadonlyArray<PolicyAttachment>,
  ) {
    super(
      `migrate-device-policies failed for thing ${thingName} at ${step}: ${
        cause instanceof Error ? cause.message : String(cause)
      } (${attached.length} polic${attached.length === 1 ? "y" : "ies"} attached before it; running the command again goes on from here)`,
    );
  }
}

const CERT_ARN = /^arn:aws[a-z-]*:iot:[a-z0-9-]+:\d+:cert\/([0-9a-f]{64})$/;

/**
 * Attaches the stage's device policies a certificate lacks: for each thing
 * (those named, or every thing of the account), for each ACTIVE certificate
 * attached to it that carries the stage's base policy (a certificate
 * registered before the device policy was split in three), AttachPolicy for
 * each of the others it does not carry. Idempotent (what is attached is
 * left alone), so a run that failed half-way is finished by running it again.
 */
export const migrateDevicePolicies = async (
  iot: IoTClient,
  options: MigratePoliciesOptions,
  deps: { readonly log?: (line: string) => void } = {},
): Promise<PolicyMigration> => {
  const log = deps.log ?? (() => {});
  const [base] = options.policyNames;
  if (base === undefined) throw new Error("migrate-device-policies: no policy names given");
  const dryRun = options.dryRun === true;
  const attached: Array<PolicyAttachment> = [];
  const skipped: Array<{ thingName: string; certificateId: string; reason: string }> = [];
  let certificates = 0;

  const things: Array<string> = [...(options.things ?? [])];
  if (options.things === undefined) {
    let nextToken: string | undefined;
    do {
      const page = await iot
        .send(new ListThingsCommand({ maxResults: 250, ...(nextToken ? { nextToken } : {}) }))
        .catch((e: unknown) => {
          throw new PolicyMigrationFailed("(all)", "ListThings", e, attached);
        });
      for (const t of page.things ?? []) if (t.thingName) things.push(t.thingName);
      nextToken = page.nextToken;
    } while (nextToken);
  }

  for (const thingName of things) {
    const step = async <A>(name: string, run: () => Promise<A>): Promise<A> => {
      try {
        return await run();
      } catch (e) {
        throw new PolicyMigrationFailed(thingName, name, e, attached);
      }
    };
    const principals: Array<string> = [];
    let nextToken: string | undefined;
    do {
      const page = await step("ListThingPrincipals", () =>
        iot.send(
          new ListThingPrincipalsCommand({ thingName, ...(nextToken ? { nextToken } : {}) }),
        ),
      );
      principals.push(...(page.principals ?? []));
      nextToken = page.nextToken;
    } while (nextToken);

    for (const certificateArn of principals) {
      const certificateId = CERT_ARN.exec(certificateArn)?.[1];
      if (certificateId === undefined) continue; // not an X.509 certificate (a Cognito identity…)
      const described = await step(`DescribeCertificate ${certificateId}`, () =>
        iot.send(new DescribeCertificateCommand({ certificateId })),
      );
      const status = described.certificateDescription?.status;
      if (status !== "ACTIVE") {
        skipped.push({ thingName, certificateId, reason: `certificate is ${status ?? "unknown"}` });
        continue;
      }
      const policies = new Set<string>();
      let marker: string | undefined;
      do {
        const page = await step(`ListAttachedPolicies ${certificateId}`, () =>
          iot.send(
            new ListAttachedPoliciesCommand({
              target: certificateArn,
              pageSize: 250,
              ...(marker ? { marker } : {}),
            }),
          ),
        );
        for (const p of page.policies ?? []) if (p.policyName) policies.add(p.policyName);
        marker = page.nextMarker;
      } while (marker);
      if (!policies.has(base)) {
        skipped.push({ thingName, certificateId, reason: `does not carry ${base}` });
        continue;
      }
      certificates++;
      for (const policyName of options.policyNames) {
        if (policies.has(policyName)) continue;
        if (!dryRun)
          await step(`AttachPolicy ${policyName} to ${certificateId}`, () =>
            iot.send(new AttachPolicyCommand({ policyName, target: certificateArn })),
          );
        attached.push({ thingName, certificateId, certificateArn, policyName });
        log(
          `${dryRun ? "would attach" : "attached"} ${policyName} to ${thingName}'s certificate ${certificateId.slice(0, 12)}…`,
        );
      }
    }
  }
  return { dryRun, things: things.length, certificates, attached, skipped };
};
