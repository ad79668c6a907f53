import {
  decideRotation,
  PreProvisioningRequest,
  type PreProvisioningResponse,
} from "@medusa/domain";
import { Either, Schema } from "effect";

const decode = Schema.decodeUnknownEither(PreProvisioningRequest);

/**
 * The certificate rotation template's pre-provisioning hook
 * (https://docs.aws.amazon.com/iot/latest/developerguide/pre-provisioning-hook.html,
 * payload version 2020-04-01): AWS IoT calls it on every RegisterThing with
 * the rotation template, with the request's parameters and the MQTT client id,
 * and proceeds only on `{"allowProvisioning": true}`. A device may attach a
 * new certificate to its own thing only (`decideRotation`: `ThingName` must be
 * the client id the device policy binds to the certificate's thing). No I/O:
 * it answers in well under AWS's 5 s. A request that cannot be read is
 * refused, and the reason logged (the device is told only "access denied").
 * The local stack calls this same function.
 */
export const rotationHookHandler =
  (log: (line: string) => void = (l) => console.log(l)) =>
  async (event: unknown): Promise<PreProvisioningResponse> => {
    const request = decode(event);
    if (Either.isLeft(request)) {
      log(
        JSON.stringify({
          level: "warn",
          msg: "rotation refused: the request cannot be read",
          reason: request.left.message,
        }),
      );
      return { allowProvisioning: false };
    }
    const decision = decideRotation(request.right);
    log(
      JSON.stringify(
        decision.allow
          ? { level: "info", msg: "rotation allowed", thing: decision.thingName }
          : { level: "warn", msg: "rotation refused", reason: decision.reason },
      ),
    );
    return { allowProvisioning: decision.allow };
  };

/** The Lambda entry (bundle `rotation-hook`). */
export const handler = rotationHookHandler();
