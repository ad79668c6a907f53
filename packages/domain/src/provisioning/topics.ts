import { Schema } from "effect";
import type { Verdict } from "../topic-rights.js";

/**
 * Fleet provisioning by claim over MQTT, as AWS IoT Core documents it
 * (https://docs.aws.amazon.com/iot/latest/developerguide/fleet-provision-api.html),
 * in its JSON payload format: a device holding the shared claim certificate
 * asks for a certificate of its own (`CreateCertificateFromCsr`), then for a
 * thing (`RegisterThing` with a provisioning template). Each request has an
 * `/accepted` and a `/rejected` topic; the answer comes back on the
 * connection that asked, and only to a subscriber.
 */

/**
 * A provisioning template's name, as CreateProvisioningTemplate takes it:
 * 1–36 characters of `[0-9A-Za-z_-]`, so it fills one topic level.
 */
export const TemplateName = Schema.String.pipe(
  Schema.pattern(/^[0-9A-Za-z_-]{1,36}$/, {
    message: () => "a provisioning template name is 1-36 characters of [0-9A-Za-z_-]",
  }),
  Schema.brand("TemplateName"),
);
export type TemplateName = typeof TemplateName.Type;

/** A request topic and its two answers. */
export interface RequestTopics {
  readonly request: string;
  readonly accepted: string;
  readonly rejected: string;
}

const withAnswers = (request: string): RequestTopics => ({
  request,
  accepted: `${request}/accepted`,
  rejected: `${request}/rejected`,
});

/** `CreateCertificateFromCsr`: the device's CSR in, a certificate and an ownership token out. */
export const CREATE_CERTIFICATE_FROM_CSR: RequestTopics = withAnswers(
  "$aws/certificates/create-from-csr/json",
);

/** `RegisterThing` with the template `template`: the ownership token and parameters in, the thing's name out. */
export const registerThingTopics = (template: TemplateName): RequestTopics =>
  withAnswers(`$aws/provisioning-templates/${template}/provision/json`);

/** The template a `RegisterThing` request topic names, if it is one. */
export const templateOfRegisterThing = (topic: string): TemplateName | undefined => {
  const match = /^\$aws\/provisioning-templates\/([^/]+)\/provision\/json$/.exec(topic);
  const name = match?.[1];
  return name !== undefined && Schema.is(TemplateName)(name) ? name : undefined;
};

/**
 * The client id a device connects with while it holds only the claim
 * certificate: the claim policy lets these connect and nothing else (a
 * claim certificate is attached to no thing, so the thing-name policy
 * variable cannot bind it).
 */
export const CLAIM_CLIENT_ID_PREFIX = "provision-";

/** What the claim policy lets a claim certificate publish to: the two requests, for its templates. */
export const claimPublishTopics = (
  templates: ReadonlyArray<TemplateName>,
): ReadonlyArray<string> => [
  CREATE_CERTIFICATE_FROM_CSR.request,
  ...templates.map((t) => registerThingTopics(t).request),
];

/**
 * What it may subscribe to (and receive): the four answers, exactly. The
 * policy names topic filters literally, so no wildcard is granted.
 */
export const claimSubscribeFilters = (
  templates: ReadonlyArray<TemplateName>,
): ReadonlyArray<string> =>
  [CREATE_CERTIFICATE_FROM_CSR, ...templates.map(registerThingTopics)].flatMap((t) => [
    t.accepted,
    t.rejected,
  ]);

const allow: Verdict = { allowed: true };

/**
 * Whether `clientId` is a claim connection's (`provision-<serial>`): a device
 * still on its batch's claim certificate, not a thing yet. The claim policy
 * lets a claim certificate connect with no other client id, and no thing may
 * be named so (`register-device` and the stack's `issue-device` refuse it),
 * so the prefix alone tells a claim connection from a device's.
 */
export const isClaimClientId = (clientId: string): boolean =>
  clientId.startsWith(CLAIM_CLIENT_ID_PREFIX) && clientId.length > CLAIM_CLIENT_ID_PREFIX.length;

/** Whether a claim certificate may connect with `clientId`. */
export const mayClaimConnect = (clientId: string): Verdict =>
  isClaimClientId(clientId)
    ? allow
    : {
        allowed: false,
        reason: `a claim certificate connects only with a client id starting ${CLAIM_CLIENT_ID_PREFIX}, not ${clientId}`,
      };

export const mayClaimPublish = (templates: ReadonlyArray<TemplateName>, topic: string): Verdict =>
  claimPublishTopics(templates).includes(topic)
    ? allow
    : {
        allowed: false,
        reason: `a claim certificate may publish only the provisioning requests (${claimPublishTopics(templates).join(", ")}), not ${topic}`,
      };

export const mayClaimSubscribe = (
  templates: ReadonlyArray<TemplateName>,
  filter: string,
): Verdict =>
  claimSubscribeFilters(templates).includes(filter)
    ? allow
    : {
        allowed: false,
        reason: `a claim certificate may subscribe only to the provisioning answers, not ${filter}`,
      };
