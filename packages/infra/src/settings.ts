import { DEFAULT_TOPIC_PREFIX, topicTemplates, validateTemplate } from "@medusa/domain";
import type { DevicePolicyPart } from "./iot.js";

export type Stage = "dev" | "prod";
export const STAGES: ReadonlyArray<Stage> = ["dev", "prod"];

/** How the API verifies bearer tokens in AWS. */
export type ApiAuth =
  /** RS256/ES256 against an OIDC key set (Cognito); the URL is a CloudFormation parameter. */
  | { readonly kind: "jwks"; readonly defaultJwksUrl?: string }
  /** HS256 with a secret the stack generates in Secrets Manager under this name; the function reads it at start. */
  | { readonly kind: "secret"; readonly secretName: string }
  /**
   * The stack's own Cognito user pool, with the console in front of the API:
   * ID tokens of the console's app client (`packages/infra/src/console.ts`).
   */
  | { readonly kind: "userPool"; readonly domainPrefix?: string };

/** Everything a deployment may vary, from CDK context (`-c key=value`). */
export interface InfraSettings {
  readonly stage: Stage;
  readonly topicPrefix: string;
  /** Prepended to every table name: `dev-` gives `dev-medusa-sensor-data`. */
  readonly tablePrefix: string;
  readonly retentionDays: number;
  readonly intervalCacheTtlMs: number;
  readonly auth: ApiAuth;
  readonly jwtIssuer?: string;
  readonly jwtAudience?: string;
  /** Encrypt every table with the stack's own KMS key (always in `prod`). */
  readonly customerManagedKey: boolean;
  /** Reserved concurrency of the ingest function: its ceiling, and a floor no other function can take. */
  readonly ingestConcurrency: number;
  /** On-demand throughput cap of every table and index, in request units per second. */
  readonly tableMaxReadUnits: number;
  readonly tableMaxWriteUnits: number;
  /** How long an assigned device may send no sample before a data-gap alert, in minutes. */
  readonly gapMinutes: number;
  /** How often the gap detector runs (its EventBridge schedule), in minutes. */
  readonly gapCheckMinutes: number;
  /** The clinic's IANA time zone, shown by the console (with `userPool`). */
  readonly clinicTimeZone: string;
}

export class SettingsError extends Error {
  override readonly name = "SettingsError";
}

/**
 * Defaults of the limits. 50 concurrent ingests at ~25 ms each take ~2,000
 * messages a second; a device at 10 Hz with 1 s messages writes ~2 units a
 * second (docs/deploy.md, section 9), so 1,000 units/s carry several hundred
 * devices and bound a runaway's bill at about 1,000 × 2.6 M s × $0.625/M ≈
 * $1,650 a month per table.
 */
export const DEFAULTS = {
  ingestConcurrency: 50,
  tableMaxReadUnits: 1000,
  tableMaxWriteUnits: 1000,
  gapMinutes: 10,
  gapCheckMinutes: 1,
} as const;

/** The context keys `settingsFromContext` reads, with what each one does (for errors and docs). */
export const CONTEXT_KEYS = {
  stage: "dev | prod (default dev); prod retains tables and turns on deletion protection",
  topicPrefix: `MQTT topic prefix (default ${DEFAULT_TOPIC_PREFIX}; at most 64 characters)`,
  tablePrefix: "table name prefix (default `<stage>-`; an empty string gives the historical names)",
  retentionDays: "days a sample is kept before DynamoDB TTL removes it (default 30)",
  intervalCacheTtlMs: "how old the ingest's cached interval list may be (default 30000)",
  jwksUrl: "default value of the JwksUrl parameter",
  jwtSecretName:
    "verify HS256 tokens with a secret the stack generates in Secrets Manager under this name, instead of a JWKS URL",
  jwtIssuer:
    "default of the JwtIssuer parameter: the `iss` API tokens must carry (required with a JWKS URL)",
  jwtAudience:
    "default of the JwtAudience parameter: the `aud` API tokens must carry (required with a JWKS URL)",
  customerManagedKey:
    "encrypt the tables with the stack's own KMS key (default true in prod, where it cannot be turned off; false in dev)",
  ingestConcurrency: `reserved concurrency of the ingest function (default ${DEFAULTS.ingestConcurrency})`,
  tableMaxReadUnits: `on-demand read cap of every table and index, units/s (default ${DEFAULTS.tableMaxReadUnits})`,
  userPool:
    "true: the stack creates the Cognito user pool (groups clinician, viewer), its hosted UI and the console behind CloudFront, and the API takes that pool's ID tokens (not with jwksUrl or jwtSecretName)",
  authDomainPrefix:
    "the hosted UI's domain prefix, unique in the region (default medusa-<stage>-<account id>)",
  clinicTimeZone: "the clinic's IANA time zone the console shows times in (default UTC)",
  tableMaxWriteUnits: `on-demand write cap of every table and index, units/s (default ${DEFAULTS.tableMaxWriteUnits})`,
  gapMinutes: `minutes an assigned device may send no sample before a data-gap alert (default ${DEFAULTS.gapMinutes})`,
  gapCheckMinutes: `how often the gap detector runs, in minutes (default ${DEFAULTS.gapCheckMinutes})`,
} as const;

const text = (key: string, value: unknown): string | undefined => {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") throw new SettingsError(`context ${key}: must be a string`);
  return value;
};

const integer = (key: string, value: unknown, fallback: number, min: number): number => {
  if (value === undefined || value === null || value === "") return fallback;
  const n = typeof value === "number" ? value : Number(value);
  if (!Number.isInteger(n) || n < min)
    throw new SettingsError(`context ${key}=${String(value)}: must be an integer ≥ ${min}`);
  return n;
};

const atMost = (key: string, n: number, max: number): number => {
  if (n > max) throw new SettingsError(`context ${key}=${n}: must be at most ${max}`);
  return n;
};

const flag = (key: string, value: unknown, fallback: boolean): boolean => {
  if (value === undefined || value === null || value === "") return fallback;
  if (value === true || value === "true") return true;
  if (value === false || value === "false") return false;
  throw new SettingsError(`context ${key}=${String(value)}: must be true or false`);
};

/**
 * The longest topic prefix: the device policy names it in each of its topics,
 * and must stay within IoT's 2,048 characters (`iot.test.ts` checks it at
 * this length).
 */
export const MAX_TOPIC_PREFIX_LENGTH = 64;

/** Reads and checks the settings; a bad value stops synthesis with the key's name. */
export const settingsFromContext = (get: (key: string) => unknown): InfraSettings => {
  const stage = text("stage", get("stage")) ?? "dev";
  if (!STAGES.includes(stage as Stage))
    throw new SettingsError(`context stage=${stage}: must be one of ${STAGES.join(", ")}`);
  const topicPrefix = text("topicPrefix", get("topicPrefix")) ?? DEFAULT_TOPIC_PREFIX;
  const invalid = validateTemplate(topicTemplates(topicPrefix).sensorData);
  if (invalid || topicPrefix.startsWith("$"))
    throw new SettingsError(
      `context topicPrefix=${topicPrefix}: ${invalid?.reason ?? "must not start with $"}`,
    );
  if (topicPrefix.length > MAX_TOPIC_PREFIX_LENGTH)
    throw new SettingsError(
      `context topicPrefix=${topicPrefix}: at most ${MAX_TOPIC_PREFIX_LENGTH} characters (every device topic in the IoT policy carries it, and a policy holds at most 2,048)`,
    );
  const tablePrefix = text("tablePrefix", get("tablePrefix")) ?? `${stage}-`;
  if (!/^[a-zA-Z0-9_.-]*$/.test(tablePrefix))
    throw new SettingsError(`context tablePrefix=${tablePrefix}: only [a-zA-Z0-9_.-]`);
  const secretName = text("jwtSecretName", get("jwtSecretName"));
  const jwksUrl = text("jwksUrl", get("jwksUrl"));
  if (secretName && jwksUrl)
    throw new SettingsError("context: set jwtSecretName or jwksUrl, not both");
  const userPool = flag("userPool", get("userPool"), false);
  if (userPool && (secretName || jwksUrl))
    throw new SettingsError(
      "context userPool=true: the stack's own pool, not with jwksUrl or jwtSecretName",
    );
  const domainPrefix = text("authDomainPrefix", get("authDomainPrefix"));
  if (domainPrefix !== undefined && !/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(domainPrefix))
    throw new SettingsError(
      `context authDomainPrefix=${domainPrefix}: lower-case letters, digits and -`,
    );
  const clinicTimeZone = text("clinicTimeZone", get("clinicTimeZone")) ?? "UTC";
  try {
    new Intl.DateTimeFormat("en", { timeZone: clinicTimeZone });
  } catch {
    throw new SettingsError(`context clinicTimeZone=${clinicTimeZone}: not an IANA time zone`);
  }
  const issuer = text("jwtIssuer", get("jwtIssuer"));
  const audience = text("jwtAudience", get("jwtAudience"));
  const production = stage === "prod";
  const customerManagedKey = flag("customerManagedKey", get("customerManagedKey"), production);
  if (production && !customerManagedKey)
    throw new SettingsError(
      "context customerManagedKey=false: production tables are always encrypted with the stack's own key",
    );
  return {
    stage: stage as Stage,
    topicPrefix,
    tablePrefix,
    retentionDays: integer("retentionDays", get("retentionDays"), 30, 1),
    intervalCacheTtlMs: integer("intervalCacheTtlMs", get("intervalCacheTtlMs"), 30_000, 0),
    auth: userPool
      ? { kind: "userPool", ...(domainPrefix ? { domainPrefix } : {}) }
      : secretName
        ? { kind: "secret", secretName }
        : { kind: "jwks", ...(jwksUrl ? { defaultJwksUrl: jwksUrl } : {}) },
    ...(issuer ? { jwtIssuer: issuer } : {}),
    ...(audience ? { jwtAudience: audience } : {}),
    customerManagedKey,
    ingestConcurrency: integer(
      "ingestConcurrency",
      get("ingestConcurrency"),
      DEFAULTS.ingestConcurrency,
      1,
    ),
    tableMaxReadUnits: integer(
      "tableMaxReadUnits",
      get("tableMaxReadUnits"),
      DEFAULTS.tableMaxReadUnits,
      1,
    ),
    tableMaxWriteUnits: integer(
      "tableMaxWriteUnits",
      get("tableMaxWriteUnits"),
      DEFAULTS.tableMaxWriteUnits,
      1,
    ),
    // The detector's own bound (MEDUSA_GAP_MINUTES): at most a week.
    gapMinutes: atMost(
      "gapMinutes",
      integer("gapMinutes", get("gapMinutes"), DEFAULTS.gapMinutes, 1),
      7 * 24 * 60,
    ),
    gapCheckMinutes: atMost(
      "gapCheckMinutes",
      integer("gapCheckMinutes", get("gapCheckMinutes"), DEFAULTS.gapCheckMinutes, 1),
      24 * 60,
    ),
    clinicTimeZone,
  };
};

/** The stack of one stage. */
export const stackName = (stage: Stage): string => `MedusaLink-${stage}`;

/** The device policy that lets a certificate connect (as its thing) and use its own MeDUSA topics. */
export const devicePolicyName = (stage: Stage): string => `medusa-${stage}-device`;

/**
 * The IoT policies every device certificate gets, one per capability (one
 * document would pass IoT's 2,048-character limit, `devicePolicyDocuments`);
 * `register-device` and the fleet provisioning template attach all of them.
 */
export const devicePolicyNames = (stage: Stage): Readonly<Record<DevicePolicyPart, string>> => ({
  device: devicePolicyName(stage),
  shadow: `medusa-${stage}-device-shadow`,
  jobs: `medusa-${stage}-device-jobs`,
});

/**
 * The IoT rule feeding the ingest function. AWS rule names are
 * `[a-zA-Z0-9_]` only (no `-`), and with Basic Ingest the name is a topic
 * level devices publish to: `$aws/rules/medusa_dev_sensor_data/…`;
 * `register-device` writes it into the agent's configuration.
 */
export const sensorRuleName = (stage: Stage): string => `medusa_${stage}_sensor_data`;

/** The IoT rule feeding the presence function (lifecycle events). */
export const presenceRuleName = (stage: Stage): string => `medusa_${stage}_presence`;

/** The IoT rule feeding shadows' reported states to the presence function (the device statuses). */
export const shadowRuleName = (stage: Stage): string => `medusa_${stage}_shadow_reported`;
