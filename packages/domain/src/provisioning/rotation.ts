import { Schema } from "effect";
import { DeviceId } from "../ids.js";
import type { PreProvisioningRequest } from "./allow-list.js";
import { CERTIFICATE_ID_PARAMETER, devicePolicyResources } from "./template.js";
import {
  CREATE_CERTIFICATE_FROM_CSR,
  type RequestTopics,
  registerThingTopics,
  TemplateName,
} from "./topics.js";

/**
 * Certificate rotation, with AWS IoT's own fleet provisioning MQTT API
 * (https://docs.aws.amazon.com/iot/latest/developerguide/fleet-provision-api.html):
 * a provisioned device, connected with its current certificate, asks
 * `CreateCertificateFromCsr` for a new one (PENDING_ACTIVATION), then
 * `RegisterThing` with the rotation template, which attaches it to the
 * device's existing thing with the device policy and activates it. The old
 * certificate stays ACTIVE until the device reports the rotation SUCCEEDED
 * (it has connected with the new one); only then does the cloud deactivate
 * it (UpdateCertificate INACTIVE). A rotation that fails anywhere leaves the
 * old certificate as it was.
 */

/** A rotation template's name ends so: the device policy grants `RegisterThing` on such templates only. */
export const ROTATION_TEMPLATE_SUFFIX = "-rotation";

/** The parameter naming the thing whose certificate is rotated. */
export const THING_NAME_PARAMETER = "ThingName";

/** The stage's rotation template name, beside its fleet template (`medusa-<stage>-rotation`). */
export const rotationTemplateName = (stagePrefix: string): TemplateName =>
  Schema.decodeSync(TemplateName)(`${stagePrefix}${ROTATION_TEMPLATE_SUFFIX}`);

/** Whether a template name is a rotation template's. */
export const isRotationTemplate = (name: string): boolean =>
  name.endsWith(ROTATION_TEMPLATE_SUFFIX) && Schema.is(TemplateName)(name);

/**
 * The rotation template: the thing is the one the `ThingName` parameter
 * names, whose attributes are kept (`OverrideSettings: DO_NOTHING`); the new
 * certificate is attached to it, activated, and given the device policies.
 * The pre-provisioning hook (`decideRotation`) lets a device name only its
 * own thing.
 */
export const certificateRotationTemplate = (options: {
  readonly devicePolicyNames: ReadonlyArray<string>;
}) => ({
  Parameters: {
    [THING_NAME_PARAMETER]: { Type: "String" },
    [CERTIFICATE_ID_PARAMETER]: { Type: "String" },
  },
  Resources: {
    thing: {
      Type: "AWS::IoT::Thing",
      Properties: { ThingName: { Ref: THING_NAME_PARAMETER } },
      OverrideSettings: { AttributePayload: "DO_NOTHING" },
    },
    certificate: {
      Type: "AWS::IoT::Certificate",
      Properties: { CertificateId: { Ref: CERTIFICATE_ID_PARAMETER }, Status: "Active" },
    },
    ...devicePolicyResources(options.devicePolicyNames),
  },
});

/** The rotation hook's decision, with the reason kept for its log. */
export type RotationDecision =
  | { readonly allow: true; readonly thingName: DeviceId }
  | { readonly allow: false; readonly reason: string };

/**
 * The rotation template's pre-provisioning hook: a device may add a
 * certificate to its own thing only. The device policy binds the MQTT client
 * id to the connecting certificate's thing name
 * (`client/${iot:Connection.Thing.ThingName}`), and AWS gives the hook that
 * client id, so `clientId === ThingName` proves the request comes from a
 * certificate of that thing. A claim certificate (client id `provision-…`)
 * never matches a thing name it could pass.
 */
export const decideRotation = (request: PreProvisioningRequest): RotationDecision => {
  const thing = request.parameters[THING_NAME_PARAMETER];
  if (thing === undefined)
    return { allow: false, reason: "the request has no ThingName parameter" };
  if (!Schema.is(DeviceId)(thing))
    return { allow: false, reason: `ThingName ${JSON.stringify(thing)} is not a thing name` };
  if (request.clientId !== thing)
    return {
      allow: false,
      reason: `client ${request.clientId} may rotate only its own thing's certificate, not ${thing}'s`,
    };
  return { allow: true, thingName: thing };
};

/**
 * What the device policy adds for rotation, as IoT policy resources (`*`:
 * any characters): publishing the two requests, for rotation templates only,
 * and subscribing to (and receiving) their four answers. A device that holds
 * these can ask for certificates, but can attach one only to its own thing
 * (the hook), and a certificate asked for and never registered is deleted
 * with its token after an hour.
 */
export const rotationPublishTopics: ReadonlyArray<string> = [
  CREATE_CERTIFICATE_FROM_CSR.request,
  `$aws/provisioning-templates/*${ROTATION_TEMPLATE_SUFFIX}/provision/json`,
];
export const rotationSubscribeFilters: ReadonlyArray<string> = [
  CREATE_CERTIFICATE_FROM_CSR.accepted,
  CREATE_CERTIFICATE_FROM_CSR.rejected,
  `$aws/provisioning-templates/*${ROTATION_TEMPLATE_SUFFIX}/provision/json/accepted`,
  `$aws/provisioning-templates/*${ROTATION_TEMPLATE_SUFFIX}/provision/json/rejected`,
];

/** RegisterThing's topics for a rotation template. */
export const rotationTopics = (template: TemplateName): RequestTopics =>
  registerThingTopics(template);

/** The statusDetails keys a `certificate.rotate` execution reports SUCCEEDED with. */
export const ROTATION_DETAILS = {
  certificateId: "certificate_id",
  previousCertificateId: "previous_certificate_id",
} as const;

/** A certificate attached to a thing, as ListThingPrincipals + DescribeCertificate give it. */
export interface AttachedCertificate {
  readonly certificateId: string;
  readonly status: string;
}

/**
 * Which certificates to deactivate once a rotation SUCCEEDED: every other
 * ACTIVE certificate of the thing, and only if the certificate the device
 * reported is attached to it and ACTIVE (it connected with it). Otherwise
 * nothing, with the reason: a report the registry does not bear out never
 * locks a device out.
 */
export const certificatesToRetire = (
  statusDetails: Readonly<Record<string, string>> | undefined,
  attached: ReadonlyArray<AttachedCertificate>,
): { readonly retire: ReadonlyArray<string> } | { readonly refused: string } => {
  const current = statusDetails?.[ROTATION_DETAILS.certificateId];
  if (current === undefined)
    return { refused: `the report names no ${ROTATION_DETAILS.certificateId}` };
  const reported = attached.find((c) => c.certificateId === current);
  if (reported === undefined)
    return { refused: `certificate ${current} is not attached to the thing` };
  if (reported.status !== "ACTIVE")
    return { refused: `certificate ${current} is ${reported.status}, not ACTIVE` };
  return {
    retire: attached
      .filter((c) => c.certificateId !== current && c.status === "ACTIVE")
      .map((c) => c.certificateId),
  };
};
