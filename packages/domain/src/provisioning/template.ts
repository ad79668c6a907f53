import { Either, Schema } from "effect";
import { DeviceId } from "../ids.js";
import { SerialNumber } from "./allow-list.js";

/**
 * The fleet provisioning template, as data: the CDK app deploys it as the
 * `AWS::IoT::ProvisioningTemplate`'s body, and the local broker applies the
 * same body (`applyProvisioningTemplate`), so both make the same thing from
 * the same request. The syntax is AWS's
 * (https://docs.aws.amazon.com/iot/latest/developerguide/provision-template.html).
 */

/** The pseudo-parameter a fleet template refers to its new certificate by. */
export const CERTIFICATE_ID_PARAMETER = "AWS::IoT::Certificate::Id";

/** The device's parameter naming it: the thing is `{thingNamePrefix}{SerialNumber}`. */
export const SERIAL_NUMBER_PARAMETER = "SerialNumber";

/** The thing attribute that keeps the serial number. */
export const SERIAL_NUMBER_ATTRIBUTE = "serial_number";

export const DEFAULT_THING_NAME_PREFIX = "medusa-";

/** Characters a thing name may hold: the prefix must be made of them, and leave room for a serial. */
const THING_NAME_PREFIX = /^[a-zA-Z0-9:_-]{0,64}$/;

export interface FleetTemplateOptions {
  /** Put before the serial number to make the thing name (`medusa-` by default). */
  readonly thingNamePrefix?: string;
  /**
   * The IoT policies every device certificate gets (the stack's device
   * policies), in order; at least one. A template's `Resources` hold "a thing,
   * a certificate, and one or more IoT policies"
   * (https://docs.aws.amazon.com/iot/latest/developerguide/provision-template.html#resources-section);
   * each is attached to the certificate by name.
   */
  readonly devicePolicyNames: ReadonlyArray<string>;
}

/**
 * A template's policy resources: each device policy attached by name, in
 * order; at least one. The first keeps the resource name `policy` it had when
 * there was one.
 */
export const devicePolicyResources = (names: ReadonlyArray<string>) => {
  if (names.length === 0) throw new Error("a template attaches at least one device policy");
  return Object.fromEntries(
    names.map((name, i) => [
      i === 0 ? "policy" : `policy${i + 1}`,
      { Type: "AWS::IoT::Policy" as const, Properties: { PolicyName: name } },
    ]),
  );
};

/**
 * MeDUSA Link's template: the thing is named by the serial number (so one
 * serial can never make a second thing: a second RegisterThing for it finds
 * the thing there and attaches the new certificate to it), keeps the serial
 * as an attribute, and gets the device policies; its certificate is activated.
 * Nothing a device sends chooses another name: the prefix is written here,
 * not taken from a parameter.
 */
export const fleetProvisioningTemplate = (options: FleetTemplateOptions) => {
  const prefix = options.thingNamePrefix ?? DEFAULT_THING_NAME_PREFIX;
  if (!THING_NAME_PREFIX.test(prefix))
    throw new Error(
      `thing name prefix "${prefix}": at most 64 characters of [a-zA-Z0-9:_-] (it begins an AWS IoT thing name)`,
    );
  const policies = devicePolicyResources(options.devicePolicyNames);
  return {
    Parameters: {
      [SERIAL_NUMBER_PARAMETER]: { Type: "String" },
      [CERTIFICATE_ID_PARAMETER]: { Type: "String" },
    },
    Resources: {
      thing: {
        Type: "AWS::IoT::Thing",
        Properties: {
          ThingName: { "Fn::Join": ["", [prefix, { Ref: SERIAL_NUMBER_PARAMETER }]] },
          AttributePayload: { [SERIAL_NUMBER_ATTRIBUTE]: { Ref: SERIAL_NUMBER_PARAMETER } },
        },
        OverrideSettings: { AttributePayload: "MERGE" },
      },
      certificate: {
        Type: "AWS::IoT::Certificate",
        Properties: { CertificateId: { Ref: CERTIFICATE_ID_PARAMETER }, Status: "Active" },
      },
      ...policies,
    },
  };
};

/** What a template makes for one request. */
export interface TemplateOutcome {
  /** The thing, or none when the template has no `AWS::IoT::Thing`. */
  readonly thing:
    | { readonly thingName: DeviceId; readonly attributes: Readonly<Record<string, string>> }
    | undefined;
  readonly certificateStatus: "ACTIVE" | "INACTIVE";
  /** The policies attached to the certificate, by name, in the template's order. */
  readonly policyNames: ReadonlyArray<string>;
  readonly deviceConfiguration: Readonly<Record<string, string>>;
}

type Json = unknown;

class TemplateFailure {
  constructor(readonly reason: string) {}
}
const fail = (reason: string): never => {
  throw new TemplateFailure(reason);
};

const isObject = (v: Json): v is Record<string, Json> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** Thing attribute names and values, as CreateThing takes them. */
const ATTRIBUTE_NAME = /^[a-zA-Z0-9_.,@/:#-]{1,128}$/;
const ATTRIBUTE_VALUE = /^[a-zA-Z0-9_.,@/:#=[\]-]{0,800}$/;
const isDeviceId = Schema.is(DeviceId);

/**
 * Applies a template body to a request's parameters and the new
 * certificate's id, as RegisterThing does: parameters the device sends (and
 * the hook's overrides, merged before) fill `Ref`s, declared defaults fill the
 * rest, `Fn::Join` joins. Only what MeDUSA Link's template uses is understood
 * (`Ref`, `Fn::Join`, a thing, a certificate, policies by name); anything
 * else is refused with the reason, never guessed at.
 */
export const applyProvisioningTemplate = (
  body: Json,
  parameters: Readonly<Record<string, string>>,
  certificateId: string,
): Either.Either<TemplateOutcome, string> => {
  try {
    if (!isObject(body)) return fail("the template body is not a JSON object");
    const declared = isObject(body.Parameters) ? body.Parameters : {};
    const values: Record<string, string> = {};
    for (const [name, spec] of Object.entries(declared)) {
      if (name === CERTIFICATE_ID_PARAMETER) continue;
      const given = parameters[name];
      if (given !== undefined) values[name] = given;
      else if (isObject(spec) && typeof spec.Default === "string") values[name] = spec.Default;
    }
    values[CERTIFICATE_ID_PARAMETER] = certificateId;

    const evaluate = (v: Json, where: string): string => {
      if (typeof v === "string") return v;
      if (isObject(v) && typeof v.Ref === "string") {
        const value = values[v.Ref];
        if (value === undefined)
          return fail(
            v.Ref in declared
              ? `parameter ${v.Ref} is required (${where}) and was not given`
              : `${where} refers to ${v.Ref}, which the template does not declare`,
          );
        return value;
      }
      if (isObject(v) && Array.isArray(v["Fn::Join"])) {
        const [delimiter, parts] = v["Fn::Join"];
        if (typeof delimiter !== "string" || !Array.isArray(parts))
          return fail(`${where}: Fn::Join takes [delimiter, [values]]`);
        return parts.map((p, i) => evaluate(p, `${where}[${i}]`)).join(delimiter);
      }
      return fail(`${where}: only strings, Ref and Fn::Join are understood here`);
    };

    const resources = isObject(body.Resources) ? Object.entries(body.Resources) : [];
    let thing: TemplateOutcome["thing"];
    let certificateStatus: TemplateOutcome["certificateStatus"] = "INACTIVE";
    const policyNames: Array<string> = [];
    for (const [id, resource] of resources) {
      if (!isObject(resource)) return fail(`resource ${id} is not an object`);
      const props = isObject(resource.Properties) ? resource.Properties : {};
      switch (resource.Type) {
        case "AWS::IoT::Thing": {
          const thingName = evaluate(props.ThingName, `${id}.ThingName`);
          if (!isDeviceId(thingName))
            return fail(
              `the thing name "${thingName}" is not valid (1-128 characters of [a-zA-Z0-9:_-])`,
            );
          const attributes: Record<string, string> = {};
          for (const [name, value] of Object.entries(
            isObject(props.AttributePayload) ? props.AttributePayload : {},
          )) {
            const text = evaluate(value, `${id}.AttributePayload.${name}`);
            if (!ATTRIBUTE_NAME.test(name) || !ATTRIBUTE_VALUE.test(text))
              return fail(`the thing attribute ${name}="${text}" is not valid`);
            attributes[name] = text;
          }
          thing = { thingName, attributes };
          break;
        }
        case "AWS::IoT::Certificate": {
          if (evaluate(props.CertificateId, `${id}.CertificateId`) !== certificateId)
            return fail(
              `${id}: a fleet template refers to its certificate by ${CERTIFICATE_ID_PARAMETER} only`,
            );
          const status =
            props.Status === undefined ? "Inactive" : evaluate(props.Status, `${id}.Status`);
          if (!["Active", "Inactive", "ACTIVE", "INACTIVE"].includes(status))
            return fail(`${id}.Status: Active or Inactive, not ${status}`);
          certificateStatus = status.toUpperCase() as "ACTIVE" | "INACTIVE";
          break;
        }
        case "AWS::IoT::Policy":
          policyNames.push(evaluate(props.PolicyName, `${id}.PolicyName`));
          break;
        default:
          return fail(`resource ${id}: type ${String(resource.Type)} is not understood here`);
      }
    }
    const deviceConfiguration: Record<string, string> = {};
    for (const [key, value] of Object.entries(
      isObject(body.DeviceConfiguration) ? body.DeviceConfiguration : {},
    ))
      deviceConfiguration[key] = evaluate(value, `DeviceConfiguration.${key}`);
    return Either.right({ thing, certificateStatus, policyNames, deviceConfiguration });
  } catch (e) {
    if (e instanceof TemplateFailure) return Either.left(e.reason);
    throw e;
  }
};

/** The serial number a request's parameters carry, if it is one. */
export const serialNumberOf = (
  parameters: Readonly<Record<string, string>> | undefined,
): SerialNumber | undefined => {
  const value = parameters?.[SERIAL_NUMBER_PARAMETER];
  return value !== undefined && Schema.is(SerialNumber)(value) ? value : undefined;
};
