import {
  DescribeCertificateCommand,
  IoTClient,
  ListThingPrincipalsCommand,
  UpdateCertificateCommand,
} from "@aws-sdk/client-iot";
import {
  type AttachedCertificate,
  type DeviceId,
  DeviceNotRegistered,
  type ThingCertificatesService,
  ThingCertificatesUnavailable,
} from "@medusa/domain";
import { Effect } from "effect";

const nameOf = (e: unknown): string =>
  typeof e === "object" && e !== null && "name" in e ? String(e.name) : "";

const unavailable = (operation: string) => (e: unknown) =>
  new ThingCertificatesUnavailable({
    operation,
    reason: e instanceof Error ? `${nameOf(e)}: ${e.message}` : String(e),
  });

/** A certificate's id from its ARN (`arn:…:iot:<region>:<account>:cert/<id>`); other principals (Cognito identities) are not certificates. */
export const certificateIdOfArn = (arn: string): string | undefined =>
  /^arn:[^:]+:iot:[^:]*:[^:]*:cert\/([0-9a-fA-F]{64})$/.exec(arn)?.[1];

/**
 * A thing's certificates in AWS IoT's registry, with the AWS SDK:
 * ListThingPrincipals (every page), DescribeCertificate for each certificate,
 * UpdateCertificate `newStatus=INACTIVE`. The rights this needs are exactly
 * `iot:ListThingPrincipals` on the thing and `iot:DescribeCertificate`,
 * `iot:UpdateCertificate` on `cert/*` (the stack's certificate retirement function).
 */
export const makeIotThingCertificates = (client: IoTClient): ThingCertificatesService => ({
  attached: (thing: DeviceId) =>
    Effect.gen(function* () {
      const principals: Array<string> = [];
      let nextToken: string | undefined;
      do {
        const token = nextToken;
        const page = yield* Effect.tryPromise({
          try: () =>
            client.send(
              new ListThingPrincipalsCommand({
                thingName: thing,
                maxResults: 100,
                ...(token ? { nextToken: token } : {}),
              }),
            ),
          catch: (e) =>
            nameOf(e) === "ResourceNotFoundException"
              ? new DeviceNotRegistered({ deviceId: thing })
              : unavailable("list the thing's principals")(e),
        });
        principals.push(...(page.principals ?? []));
        nextToken = page.nextToken;
      } while (nextToken);
      const ids = principals.flatMap((arn) => {
        const id = certificateIdOfArn(arn);
        return id === undefined ? [] : [id];
      });
      return yield* Effect.forEach(
        ids,
        (certificateId) =>
          Effect.tryPromise({
            try: () => client.send(new DescribeCertificateCommand({ certificateId })),
            catch: unavailable("describe a certificate"),
          }).pipe(
            Effect.map(
              (r): AttachedCertificate => ({
                certificateId,
                status: r.certificateDescription?.status ?? "UNKNOWN",
              }),
            ),
          ),
        { concurrency: 4 },
      );
    }),
  deactivate: (certificateId) =>
    Effect.tryPromise({
      try: () =>
        client.send(new UpdateCertificateCommand({ certificateId, newStatus: "INACTIVE" })),
      catch: unavailable("deactivate a certificate"),
    }).pipe(Effect.asVoid),
});

/** The adapter on its own client (the function's region and credentials, as the Lambda runtime gives them). */
export const connectIotThingCertificates = (
  config: { readonly region?: string; readonly endpoint?: string } = {},
): ThingCertificatesService =>
  makeIotThingCertificates(
    new IoTClient({
      ...(config.region ? { region: config.region } : {}),
      ...(config.endpoint ? { endpoint: config.endpoint } : {}),
      // A rotation's retirement waits for no one: the SDK's default retries, no more.
      maxAttempts: 3,
    }),
  );
