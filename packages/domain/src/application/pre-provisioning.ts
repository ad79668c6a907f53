import { Effect, Either, Option, Schema } from "effect";
import { AllowList } from "../ports/allow-list.js";
import type { StorageUnavailable } from "../ports/storage.js";
import {
  decidePreProvisioning,
  type PreProvisioningDecision,
  PreProvisioningRequest,
} from "../provisioning/allow-list.js";
import { serialNumberOf } from "../provisioning/template.js";
import { decodeGuarded } from "../telemetry/json.js";

const decodeRequest = Schema.decodeUnknownEither(PreProvisioningRequest);

/**
 * The pre-provisioning hook's check: the request AWS IoT sends (decoded here:
 * a malformed one is refused with the reason, never thrown), the serial
 * number it names looked up on the allow-list, and the decision. Only a
 * listed serial is looked up; a store that cannot answer fails the check.
 */
export const checkPreProvisioning = (
  event: unknown,
): Effect.Effect<PreProvisioningDecision, StorageUnavailable, AllowList> =>
  Effect.gen(function* () {
    const decoded = decodeGuarded("not a pre-provisioning hook request", event, decodeRequest);
    if (Either.isLeft(decoded))
      return { allow: false, reason: decoded.left.message } satisfies PreProvisioningDecision;
    const request = decoded.right;
    const serialNumber = serialNumberOf(request.parameters);
    const entry =
      serialNumber === undefined
        ? undefined
        : Option.getOrUndefined(
            yield* Effect.flatMap(AllowList, (list) => list.find(serialNumber)),
          );
    return decidePreProvisioning(request, serialNumber, entry);
  });
