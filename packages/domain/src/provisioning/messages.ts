import { Schema } from "effect";

/**
 * The fleet provisioning API's JSON documents
 * (https://docs.aws.amazon.com/iot/latest/developerguide/fleet-provision-api.html).
 * The service ignores fields it does not know, and so do these.
 */

const Text = Schema.String.pipe(Schema.minLength(1));
/** RegisterThing's parameters: a string-to-string map (keys ≤ 2,048, values ≤ 4,096 characters). */
export const ProvisioningParameters = Schema.Record({
  key: Schema.String.pipe(Schema.maxLength(2048)),
  value: Schema.String.pipe(Schema.maxLength(4096)),
});
export type ProvisioningParameters = typeof ProvisioningParameters.Type;

export const CreateCertificateFromCsrRequest = Schema.Struct({
  /** The CSR, PEM. */
  certificateSigningRequest: Text,
});
export type CreateCertificateFromCsrRequest = typeof CreateCertificateFromCsrRequest.Type;

export const CreateCertificateFromCsrResponse = Schema.Struct({
  /** Proves the certificate is the caller's at RegisterThing; expires after an hour. */
  certificateOwnershipToken: Text,
  certificateId: Text,
  certificatePem: Text,
});
export type CreateCertificateFromCsrResponse = typeof CreateCertificateFromCsrResponse.Type;

export const RegisterThingRequest = Schema.Struct({
  certificateOwnershipToken: Schema.String,
  parameters: Schema.optionalWith(ProvisioningParameters, { exact: true }),
});
export type RegisterThingRequest = typeof RegisterThingRequest.Type;

export const RegisterThingResponse = Schema.Struct({
  /** The template's `DeviceConfiguration`, flat. */
  deviceConfiguration: Schema.optionalWith(
    Schema.Record({ key: Schema.String, value: Schema.String }),
    {
      default: () => ({}),
      exact: true,
    },
  ),
  thingName: Text,
});
export type RegisterThingResponse = typeof RegisterThingResponse.Type;

/** Every `/rejected` answer: an HTTP-like status, a code and a message. */
export const ProvisioningError = Schema.Struct({
  statusCode: Schema.Number,
  errorCode: Schema.String,
  errorMessage: Schema.String,
});
export type ProvisioningError = typeof ProvisioningError.Type;

/**
 * The codes the local emulation answers with. AWS documents the shape of a
 * rejection but not its codes: `InvalidCertificateOwnershipToken` (400) is
 * what AWS IoT answers (aws-iot-device-sdk-js-v2#69), a refusing
 * pre-provisioning hook fails the request "with ACCESS_DENIED"
 * (pre-provisioning-hook.html), and the status codes are those AWS's C SDK
 * names (400, 403, 404, 429, 500); the other codes follow the names of
 * RegisterThing's control-plane exceptions.
 */
export const PROVISIONING_ERRORS = {
  invalidPayload: { statusCode: 400, errorCode: "InvalidPayload" },
  invalidCsr: { statusCode: 400, errorCode: "InvalidCsr" },
  invalidToken: { statusCode: 400, errorCode: "InvalidCertificateOwnershipToken" },
  registrationFailed: { statusCode: 400, errorCode: "ResourceRegistrationFailure" },
  accessDenied: { statusCode: 403, errorCode: "AccessDenied" },
  templateNotFound: { statusCode: 404, errorCode: "ResourceNotFound" },
  conflict: { statusCode: 409, errorCode: "ConflictingResourceUpdate" },
  throttled: { statusCode: 429, errorCode: "Throttling" },
  internal: { statusCode: 500, errorCode: "InternalFailure" },
} as const satisfies Record<string, Omit<ProvisioningError, "errorMessage">>;

export const provisioningError = (
  kind: keyof typeof PROVISIONING_ERRORS,
  errorMessage: string,
): ProvisioningError => ({ ...PROVISIONING_ERRORS[kind], errorMessage });

/**
 * What a device does with a rejection:
 * - `retry`: the same request again, after a backoff — the service was busy
 *   (429), failed (5xx) or met a concurrent change (409), which AWS's own
 *   SDKs retry;
 * - `new-certificate`: the ownership token is refused (expired after its
 *   hour, or already void), and the documented way on is a new certificate
 *   ("If the token expires, the device can call CreateCertificateFromCsr to
 *   generate a new certificate");
 * - `refused`: no retry of this request can succeed (a bad request, access
 *   denied, an unknown template): someone must change something first.
 */
export type RejectionOutcome = "retry" | "new-certificate" | "refused";

export const rejectionOutcome = (
  operation: "CreateCertificateFromCsr" | "RegisterThing",
  error: ProvisioningError,
): RejectionOutcome => {
  if (error.statusCode === 429 || error.statusCode === 409 || error.statusCode >= 500)
    return "retry";
  if (
    operation === "RegisterThing" &&
    error.errorCode === PROVISIONING_ERRORS.invalidToken.errorCode
  )
    return "new-certificate";
  return "refused";
};

/** How long a certificate ownership token is good for, from its issue. */
export const OWNERSHIP_TOKEN_TTL_MS = 3_600_000;
