import { Schema } from "effect";
import { EpochMillis } from "../ids.js";

/**
 * A device's serial number, as manufacturing lists it and the device reports
 * it (a Raspberry Pi's is the `Serial` line of `/proc/cpuinfo`, 16 hex
 * digits). It becomes part of the thing name, so it holds only characters a
 * thing name may: 1–64 of `[A-Za-z0-9:_-]`. Compared exactly: `00ab` and
 * `00AB` are two serials.
 */
export const SerialNumber = Schema.String.pipe(
  Schema.pattern(/^[A-Za-z0-9:_-]{1,64}$/, {
    message: () => "a serial number is 1-64 characters of [A-Za-z0-9:_-]",
  }),
  Schema.brand("SerialNumber"),
);
export type SerialNumber = typeof SerialNumber.Type;

/** Free text naming a production batch (a label for people; 1–128 characters). */
export const BatchName = Schema.String.pipe(
  Schema.trimmed({ message: () => "a batch name has no leading or trailing spaces" }),
  Schema.minLength(1, { message: () => "a batch name is not empty" }),
  Schema.maxLength(128, { message: () => "a batch name is at most 128 characters" }),
);

/** An AWS IoT certificate id: the SHA-256 of the certificate's DER, 64 hex digits. */
export const CertificateId = Schema.String.pipe(
  Schema.pattern(/^[0-9a-f]{64}$/, {
    message: () => "a certificate id is 64 lowercase hex digits",
  }),
);

/**
 * A device that may provision itself: its serial number, the batch it was
 * made in, and, when set, the one claim certificate it may provision with
 * (a leaked claim certificate of another batch then cannot provision it).
 */
export const AllowListEntry = Schema.Struct({
  serialNumber: SerialNumber,
  batch: Schema.optionalWith(BatchName, { exact: true }),
  claimCertificateId: Schema.optionalWith(CertificateId, { exact: true }),
  addedAt: EpochMillis,
});
export type AllowListEntry = typeof AllowListEntry.Type;

/**
 * What AWS IoT sends a pre-provisioning hook
 * (https://docs.aws.amazon.com/iot/latest/developerguide/pre-provisioning-hook.html,
 * payload version 2020-04-01).
 */
export const PreProvisioningRequest = Schema.Struct({
  claimCertificateId: Schema.String,
  certificateId: Schema.String,
  certificatePem: Schema.String,
  templateArn: Schema.String,
  clientId: Schema.String,
  parameters: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.String }), {
    default: () => ({}),
    exact: true,
  }),
});
export type PreProvisioningRequest = typeof PreProvisioningRequest.Type;

/** What the hook answers: provisioning proceeds only with `allowProvisioning: true`. */
export interface PreProvisioningResponse {
  readonly allowProvisioning: boolean;
  /** Added to (and winning over) the request's parameters. */
  readonly parameterOverrides?: Readonly<Record<string, string>>;
}

/** The hook's decision, with the reason kept for its log (AWS tells the device only "access denied"). */
export type PreProvisioningDecision =
  | {
      readonly allow: true;
      readonly serialNumber: SerialNumber;
      readonly batch: string | undefined;
    }
  | { readonly allow: false; readonly reason: string };

/**
 * Whether a device may provision: its `SerialNumber` parameter must be a
 * serial number on the allow-list, and, when the entry names a claim
 * certificate, the request must come with that claim certificate.
 * `entry` is the allow-list's entry for the request's serial (none: not listed).
 */
export const decidePreProvisioning = (
  request: PreProvisioningRequest,
  serialNumber: SerialNumber | undefined,
  entry: AllowListEntry | undefined,
): PreProvisioningDecision => {
  if (serialNumber === undefined)
    return {
      allow: false,
      reason:
        request.parameters.SerialNumber === undefined
          ? "the request has no SerialNumber parameter"
          : `SerialNumber ${JSON.stringify(request.parameters.SerialNumber)} is not a serial number (1-64 of [A-Za-z0-9:_-])`,
    };
  if (entry === undefined || entry.serialNumber !== serialNumber)
    return { allow: false, reason: `serial number ${serialNumber} is not on the allow-list` };
  if (
    entry.claimCertificateId !== undefined &&
    entry.claimCertificateId !== request.claimCertificateId
  )
    return {
      allow: false,
      reason: `serial number ${serialNumber} may provision only with claim certificate ${entry.claimCertificateId}, not ${request.claimCertificateId}`,
    };
  return { allow: true, serialNumber, batch: entry.batch };
};

/** The answer AWS IoT reads. No parameter is overridden: the template names the thing. */
export const hookResponse = (decision: PreProvisioningDecision): PreProvisioningResponse => ({
  allowProvisioning: decision.allow,
});
