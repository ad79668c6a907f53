import { dynamoAllowListLayer, dynamoSettingsFromEnv, makeDynamoClient } from "@medusa/adapters";
import {
  type AllowList,
  checkPreProvisioning,
  hookResponse,
  type PreProvisioningResponse,
} from "@medusa/domain";
import { Effect, Either, type Layer, ManagedRuntime } from "effect";
import { runOrReject } from "../services.js";

type Env = Readonly<Record<string, string | undefined>>;

/**
 * The fleet provisioning template's pre-provisioning hook
 * (https://docs.aws.amazon.com/iot/latest/developerguide/pre-provisioning-hook.html):
 * AWS IoT calls it on every RegisterThing with the request (the device's
 * parameters, the claim and new certificate ids); it answers
 * `{ allowProvisioning }` within the documented 5 s. A serial number that is
 * not on the allow-list is refused, and the reason logged (the device is told
 * only "access denied"). A store that cannot answer fails the invocation,
 * which AWS IoT also treats as a refusal. The local broker calls this same
 * function (`packages/stack`).
 */
export const preProvisioningHandler = (
  layer: Layer.Layer<AllowList>,
  log: (line: string) => void = (l) => console.log(l),
) => {
  const runtime = ManagedRuntime.make(layer);
  return (event: unknown): Promise<PreProvisioningResponse> =>
    runOrReject(
      runtime,
      checkPreProvisioning(event).pipe(
        Effect.tap((decision) =>
          Effect.sync(() =>
            log(
              JSON.stringify(
                decision.allow
                  ? {
                      level: "info",
                      msg: "provisioning allowed",
                      serial_number: decision.serialNumber,
                      batch: decision.batch ?? null,
                    }
                  : { level: "warn", msg: "provisioning refused", reason: decision.reason },
              ),
            ),
          ),
        ),
        Effect.map(hookResponse),
      ),
    );
};

/** The hook on the allow-list table the environment names (`MEDUSA_ALLOW_LIST_TABLE` or the prefix). */
export const makePreProvisioningHandler = (env: Env) => {
  const settings = dynamoSettingsFromEnv(env, { requireRegion: true });
  if (Either.isLeft(settings)) throw settings.left;
  const { region, endpoint, tables } = settings.right;
  const client = makeDynamoClient({
    ...(region ? { region } : {}),
    ...(endpoint ? { endpoint } : {}),
    // A hook has 5 s: two tries of a GetItem, not the SDK's default backoff.
    maxAttempts: 2,
  });
  return preProvisioningHandler(dynamoAllowListLayer({ client, tables }));
};

let wired: ReturnType<typeof makePreProvisioningHandler> | undefined;
export const handler = (event: unknown) => {
  wired ??= makePreProvisioningHandler(process.env);
  return wired(event);
};
