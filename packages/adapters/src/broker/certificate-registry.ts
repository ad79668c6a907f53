import { createHash } from "node:crypto";
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { mayClaimConnect, mayClaimPublish, mayClaimSubscribe, TemplateName } from "@medusa/domain";
import { Schema } from "effect";
import type { RegisteredPrincipal } from "./local-broker.js";

/**
 * The local stand-in for AWS IoT's certificate and thing registry, as far as
 * fleet provisioning needs one: the claim certificates (held to the claim
 * policy), the certificates CreateCertificateFromCsr issued (pending until
 * RegisterThing activates them, deleted when their ownership token expires
 * unused, as AWS does), the things, and which certificate is attached to
 * which thing. The broker asks it who a client certificate is
 * (`principalOf`). With a file it survives restarts of the local stack.
 */

/** AWS IoT's certificate id: the SHA-256 of the certificate's DER, lowercase hex. */
export const certificateIdOf = (der: Buffer | Uint8Array): string =>
  createHash("sha256").update(der).digest("hex");

/** A PEM certificate's id. */
export const certificateIdOfPem = (pem: string): string => {
  const body = /-----BEGIN CERTIFICATE-----([\s\S]+?)-----END CERTIFICATE-----/.exec(pem)?.[1];
  if (body === undefined) throw new Error("not a PEM certificate");
  return certificateIdOf(Buffer.from(body.replace(/\s+/g, ""), "base64"));
};

const CertificateRecord = Schema.Struct({
  certificateId: Schema.String,
  certificatePem: Schema.String,
  status: Schema.Literal("ACTIVE", "INACTIVE", "PENDING_ACTIVATION"),
  /** A claim certificate (the claim policy) or a device's. */
  role: Schema.Literal("claim", "device"),
  /** Claim certificates: the templates their policy names. */
  templates: Schema.optionalWith(Schema.Array(TemplateName), { exact: true }),
  createdAt: Schema.Number,
  ownershipToken: Schema.optionalWith(Schema.String, { exact: true }),
  tokenExpiresAt: Schema.optionalWith(Schema.Number, { exact: true }),
  thingName: Schema.optionalWith(Schema.String, { exact: true }),
  /** The policies attached to a device certificate, by name (a record kept with the older `policyName` reads without). */
  policyNames: Schema.optionalWith(Schema.Array(Schema.String), { exact: true }),
  /** What RegisterThing answered for it (the same answer again for the same token). */
  deviceConfiguration: Schema.optionalWith(
    Schema.Record({ key: Schema.String, value: Schema.String }),
    { exact: true },
  ),
});
export type CertificateRecord = typeof CertificateRecord.Type;

const ThingRecord = Schema.Struct({
  thingName: Schema.String,
  attributes: Schema.Record({ key: Schema.String, value: Schema.String }),
  createdAt: Schema.Number,
  /** The certificates attached, by id. */
  principals: Schema.Array(Schema.String),
});
export type ThingRecord = typeof ThingRecord.Type;

const RegistryFile = Schema.Struct({
  version: Schema.Literal(1),
  certificates: Schema.Array(CertificateRecord),
  things: Schema.Array(ThingRecord),
});

export interface CertificateRegistry {
  /** Who a client certificate is, for the broker; undefined: not registered (identified by its CN). */
  readonly principalOf: (certificateDer: Buffer) => RegisteredPrincipal | undefined;
  /** Registers a claim certificate (active, held to the claim policy for these templates). */
  readonly registerClaimCertificate: (
    certificatePem: string,
    templates: ReadonlyArray<TemplateName>,
  ) => string;
  /** A certificate CreateCertificateFromCsr issued: pending activation, owned by the token's holder. */
  readonly addPendingCertificate: (record: {
    readonly certificateId: string;
    readonly certificatePem: string;
    readonly ownershipToken: string;
    readonly tokenExpiresAt: number;
    readonly createdAt: number;
  }) => void;
  /** The certificate an unexpired token owns, if any. */
  readonly certificateOfToken: (token: string, now: number) => CertificateRecord | undefined;
  /**
   * Creates the thing (or merges the attributes into the one there),
   * attaches the certificate and its policies, sets its status, and keeps the
   * answer; all at once, so no request sees half of it.
   */
  readonly registerThing: (registration: {
    readonly certificateId: string;
    readonly thingName: string;
    readonly attributes: Readonly<Record<string, string>>;
    readonly status: "ACTIVE" | "INACTIVE";
    readonly policyNames: ReadonlyArray<string>;
    readonly deviceConfiguration: Readonly<Record<string, string>>;
    readonly now: number;
  }) => { readonly created: boolean };
  /**
   * UpdateCertificate: sets an ACTIVE or INACTIVE certificate's status
   * (AWS refuses to activate or deactivate one pending activation). False
   * when there is no such certificate or it is pending.
   */
  readonly updateCertificateStatus: (
    certificateId: string,
    status: "ACTIVE" | "INACTIVE",
  ) => boolean;
  /**
   * Takes in a device certificate the registry never saw (one the stack's CA
   * issued by CN, identified by its CN), ACTIVE and attached to `thingName`
   * as AWS IoT keeps every certificate: so that it can be deactivated once a
   * rotation replaced it. Nothing when it is known already.
   */
  readonly adoptCertificate: (record: {
    readonly certificateId: string;
    readonly certificatePem: string;
    readonly thingName: string;
    readonly now: number;
  }) => void;
  /** Deletes the certificates whose token expired before they were registered (AWS does the same). */
  readonly sweep: (now: number) => number;
  readonly certificate: (certificateId: string) => CertificateRecord | undefined;
  readonly thing: (thingName: string) => ThingRecord | undefined;
  readonly things: () => ReadonlyArray<ThingRecord>;
  readonly certificates: () => ReadonlyArray<CertificateRecord>;
}

/** A registry, kept in memory, and in `file` (JSON, 0600) when given. */
export const createCertificateRegistry = (
  options: { readonly file?: string } = {},
): CertificateRegistry => {
  const certificates = new Map<string, CertificateRecord>();
  const things = new Map<string, ThingRecord>();
  const byToken = new Map<string, string>();
  const { file } = options;
  if (file !== undefined && existsSync(file)) {
    const stored = Schema.decodeUnknownSync(RegistryFile)(JSON.parse(readFileSync(file, "utf8")));
    for (const c of stored.certificates) {
      certificates.set(c.certificateId, c);
      if (c.ownershipToken !== undefined) byToken.set(c.ownershipToken, c.certificateId);
    }
    for (const t of stored.things) things.set(t.thingName, t);
  }
  const save = () => {
    if (file === undefined) return;
    const text = JSON.stringify({
      version: 1,
      certificates: [...certificates.values()],
      things: [...things.values()],
    });
    writeFileSync(`${file}.tmp`, text, { mode: 0o600 });
    renameSync(`${file}.tmp`, file);
  };
  const claimPrincipal = (record: CertificateRecord): RegisteredPrincipal => {
    const templates = record.templates ?? [];
    return {
      kind: "restricted",
      name: `claim certificate ${record.certificateId.slice(0, 12)}`,
      mayConnect: mayClaimConnect,
      mayPublish: (topic) => mayClaimPublish(templates, topic),
      maySubscribe: (filter) => mayClaimSubscribe(templates, filter),
    };
  };
  return {
    principalOf: (der) => {
      const record = certificates.get(certificateIdOf(der));
      if (record === undefined) return undefined;
      if (record.status !== "ACTIVE")
        return {
          kind: "refused",
          reason: `certificate ${record.certificateId} is ${record.status}`,
        };
      if (record.role === "claim") return claimPrincipal(record);
      if (record.thingName === undefined)
        return {
          kind: "refused",
          reason: `certificate ${record.certificateId} is attached to no thing`,
        };
      return { kind: "thing", thingName: record.thingName };
    },
    registerClaimCertificate: (certificatePem, templates) => {
      const certificateId = certificateIdOfPem(certificatePem);
      certificates.set(certificateId, {
        certificateId,
        certificatePem,
        status: "ACTIVE",
        role: "claim",
        templates: [...templates],
        createdAt: Date.now(),
      });
      save();
      return certificateId;
    },
    addPendingCertificate: (record) => {
      certificates.set(record.certificateId, {
        ...record,
        status: "PENDING_ACTIVATION",
        role: "device",
      });
      byToken.set(record.ownershipToken, record.certificateId);
      save();
    },
    certificateOfToken: (token, now) => {
      const id = byToken.get(token);
      const record = id === undefined ? undefined : certificates.get(id);
      return record !== undefined && (record.tokenExpiresAt ?? 0) > now ? record : undefined;
    },
    registerThing: (r) => {
      const certificate = certificates.get(r.certificateId);
      if (certificate === undefined) throw new Error(`no certificate ${r.certificateId}`);
      const existing = things.get(r.thingName);
      things.set(r.thingName, {
        thingName: r.thingName,
        attributes: { ...existing?.attributes, ...r.attributes },
        createdAt: existing?.createdAt ?? r.now,
        principals: [...new Set([...(existing?.principals ?? []), r.certificateId])],
      });
      certificates.set(r.certificateId, {
        ...certificate,
        status: r.status,
        thingName: r.thingName,
        ...(r.policyNames.length > 0 ? { policyNames: [...r.policyNames] } : {}),
        deviceConfiguration: { ...r.deviceConfiguration },
      });
      save();
      return { created: existing === undefined };
    },
    updateCertificateStatus: (certificateId, status) => {
      const record = certificates.get(certificateId);
      if (record === undefined || record.status === "PENDING_ACTIVATION") return false;
      if (record.status !== status) {
        certificates.set(certificateId, { ...record, status });
        save();
      }
      return true;
    },
    adoptCertificate: (r) => {
      if (certificates.has(r.certificateId)) return;
      certificates.set(r.certificateId, {
        certificateId: r.certificateId,
        certificatePem: r.certificatePem,
        status: "ACTIVE",
        role: "device",
        thingName: r.thingName,
        createdAt: r.now,
      });
      const thing = things.get(r.thingName);
      things.set(r.thingName, {
        thingName: r.thingName,
        attributes: thing?.attributes ?? {},
        createdAt: thing?.createdAt ?? r.now,
        principals: [...new Set([...(thing?.principals ?? []), r.certificateId])],
      });
      save();
    },
    sweep: (now) => {
      let deleted = 0;
      for (const [id, record] of certificates) {
        if (record.status !== "PENDING_ACTIVATION" || record.thingName !== undefined) continue;
        if ((record.tokenExpiresAt ?? 0) > now) continue;
        certificates.delete(id);
        if (record.ownershipToken !== undefined) byToken.delete(record.ownershipToken);
        deleted++;
      }
      if (deleted > 0) save();
      return deleted;
    },
    certificate: (id) => certificates.get(id),
    thing: (name) => things.get(name),
    things: () => [...things.values()],
    certificates: () => [...certificates.values()],
  };
};
