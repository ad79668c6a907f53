import { Either, Schema } from "effect";
import { HttpUrl, SettingError, setting } from "../settings.js";
import { type TableNames, tableNames } from "./tables.js";

type Env = Readonly<Record<string, string | undefined>>;

/** Where DynamoDB is and what its tables are called, as every service reads it from its environment. */
export interface DynamoSettings {
  /** DynamoDB's region (any name, e.g. `local`, for DynamoDB Local); the SDK's own default when absent. */
  readonly region?: string;
  /** An endpoint override (DynamoDB Local). */
  readonly endpoint?: string;
  readonly tables: TableNames;
}

const RegionName = Schema.String.pipe(
  Schema.pattern(/^[a-z][a-z0-9-]*[a-z0-9]$/, {
    message: () => "not a region name (e.g. eu-central-1)",
  }),
);

/** DynamoDB's rule for table names. */
const TABLE_NAME = /^[a-zA-Z0-9_.-]{3,255}$/;

const TABLE_VARIABLES: Record<keyof TableNames, string> = {
  events: "MEDUSA_EVENTS_TABLE",
  mapping: "MEDUSA_MAPPING_TABLE",
  sensor: "MEDUSA_SENSOR_TABLE",
  deadLetters: "MEDUSA_DEAD_LETTER_TABLE",
  idempotency: "MEDUSA_IDEMPOTENCY_TABLE",
  allowList: "MEDUSA_ALLOW_LIST_TABLE",
  deviceStatuses: "MEDUSA_DEVICE_STATUS_TABLE",
  alerts: "MEDUSA_ALERTS_TABLE",
  activity: "MEDUSA_ACTIVITY_TABLE",
};

/** From `MEDUSA_TABLE_PREFIX` and the explicit `MEDUSA_*_TABLE` variables. */
export const tableNamesFromEnv = (env: Env): TableNames =>
  tableNames({
    ...(env.MEDUSA_TABLE_PREFIX ? { prefix: env.MEDUSA_TABLE_PREFIX } : {}),
    ...(env.MEDUSA_EVENTS_TABLE ? { events: env.MEDUSA_EVENTS_TABLE } : {}),
    ...(env.MEDUSA_MAPPING_TABLE ? { mapping: env.MEDUSA_MAPPING_TABLE } : {}),
    ...(env.MEDUSA_SENSOR_TABLE ? { sensor: env.MEDUSA_SENSOR_TABLE } : {}),
    ...(env.MEDUSA_DEAD_LETTER_TABLE ? { deadLetters: env.MEDUSA_DEAD_LETTER_TABLE } : {}),
    ...(env.MEDUSA_IDEMPOTENCY_TABLE ? { idempotency: env.MEDUSA_IDEMPOTENCY_TABLE } : {}),
    ...(env.MEDUSA_ALLOW_LIST_TABLE ? { allowList: env.MEDUSA_ALLOW_LIST_TABLE } : {}),
    ...(env.MEDUSA_DEVICE_STATUS_TABLE ? { deviceStatuses: env.MEDUSA_DEVICE_STATUS_TABLE } : {}),
    ...(env.MEDUSA_ALERTS_TABLE ? { alerts: env.MEDUSA_ALERTS_TABLE } : {}),
    ...(env.MEDUSA_ACTIVITY_TABLE ? { activity: env.MEDUSA_ACTIVITY_TABLE } : {}),
  });

/**
 * The DynamoDB settings of a service (`AWS_REGION`, `AWS_ENDPOINT_URL_DYNAMODB`,
 * `MEDUSA_TABLE_PREFIX`, `MEDUSA_*_TABLE`), checked once, so a service stops at
 * start-up, naming the variable, rather than at its first request.
 * `requireRegion`: a Lambda always has `AWS_REGION`; a server must be told.
 */
export const dynamoSettingsFromEnv = (
  env: Env,
  options: { readonly requireRegion: boolean },
): Either.Either<DynamoSettings, SettingError> =>
  Either.gen(function* () {
    if (options.requireRegion && !env.AWS_REGION)
      return yield* Either.left(
        new SettingError({
          variable: "AWS_REGION",
          problem:
            "AWS_REGION is required (DynamoDB's region, e.g. eu-central-1; any name, e.g. local, for DynamoDB Local)",
        }),
      );
    const region = yield* setting(env, "AWS_REGION", RegionName, undefined);
    const endpoint = yield* setting(env, "AWS_ENDPOINT_URL_DYNAMODB", HttpUrl, undefined);
    const tables = tableNamesFromEnv(env);
    for (const role of Object.keys(TABLE_VARIABLES) as Array<keyof TableNames>) {
      if (TABLE_NAME.test(tables[role])) continue;
      const variable = env[TABLE_VARIABLES[role]] ? TABLE_VARIABLES[role] : "MEDUSA_TABLE_PREFIX";
      return yield* Either.left(
        new SettingError({
          variable,
          problem: `${variable}=${env[variable]}: gives the table name "${tables[role]}"; a DynamoDB table name is 3-255 characters of [a-zA-Z0-9_.-]`,
        }),
      );
    }
    return {
      ...(region !== undefined ? { region } : {}),
      ...(endpoint !== undefined ? { endpoint } : {}),
      tables,
    };
  });
