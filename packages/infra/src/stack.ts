// Over 350 lines on purpose: the stack is one CloudFormation unit whose parts name each other (tables, policy, rule, functions, API); tables.ts and iot.ts hold what stands alone.
import type { TableRole } from "@medusa/adapters";
import {
  CfnOutput,
  CfnParameter,
  Duration,
  Fn,
  RemovalPolicy,
  Stack,
  type StackProps,
  Tags,
} from "aws-cdk-lib";
import { AccessLogFormat } from "aws-cdk-lib/aws-apigateway";
import * as apigwv2 from "aws-cdk-lib/aws-apigatewayv2";
import { HttpLambdaIntegration } from "aws-cdk-lib/aws-apigatewayv2-integrations";
import * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as events from "aws-cdk-lib/aws-events";
import * as targets from "aws-cdk-lib/aws-events-targets";
import * as iam from "aws-cdk-lib/aws-iam";
import * as iot from "aws-cdk-lib/aws-iot";
import * as kms from "aws-cdk-lib/aws-kms";
import * as lambda from "aws-cdk-lib/aws-lambda";
import { SqsDestination } from "aws-cdk-lib/aws-lambda-destinations";
import { DynamoEventSource, SqsDlq } from "aws-cdk-lib/aws-lambda-event-sources";
import * as logs from "aws-cdk-lib/aws-logs";
import * as s3 from "aws-cdk-lib/aws-s3";
import * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import * as sns from "aws-cdk-lib/aws-sns";
import * as sqs from "aws-cdk-lib/aws-sqs";
import * as cr from "aws-cdk-lib/custom-resources";
import type { Construct } from "constructs";
import {
  type HandlerName,
  RETIREMENT_IOT_ACCESS,
  SECRET_ACCESS,
  TABLE_ACCESS,
  tableKeyAccess,
  tablesOf,
} from "./access.js";
import type { HandlerBundles } from "./bundles.js";
import { MedusaConsole } from "./console.js";
import {
  DEVICE_POLICY_PARTS,
  devicePolicyDocuments,
  RULE_SQL_VERSION,
  sensorRuleSql,
} from "./iot.js";
import { FleetProvisioning } from "./provisioning.js";
import { CertificateRotation } from "./rotation.js";
import {
  devicePolicyNames,
  type InfraSettings,
  presenceRuleName,
  sensorRuleName,
  shadowRuleName,
} from "./settings.js";
import { MedusaTables } from "./tables.js";

/** The variable each table's name reaches a handler by (see `@medusa/adapters`). */
export const TABLE_ENV: Readonly<Record<TableRole, string>> = {
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

/**
 * The ingest function's timeout. Re-attribution's correctness argument
 * (`packages/lambda/README.md`) bounds one ingest by it: the second pass waits
 * the cache TTL plus this long.
 */
export const INGEST_TIMEOUT_S = 15;
/** The activity function: a batch's devices, each a Query of its samples and a write or two. */
export const ACTIVITY_TIMEOUT_S = 120;
/** Records of a shard one activity batch takes at most, and how long Lambda gathers them. */
export const ACTIVITY_BATCH_SIZE = 1000;
export const ACTIVITY_WINDOW_S = 60;
/** Lambda's runtime: the current Node.js LTS (the bundles target Node 20 and run on it). */
export const RUNTIME = lambda.Runtime.NODEJS_24_X;

export interface MedusaStackProps extends StackProps {
  readonly settings: InfraSettings;
  /** The handlers' bundles, from `bundleHandlers`. */
  readonly bundles: HandlerBundles;
  /** The console's production build (`packages/console/dist`); needed with the stack's user pool. */
  readonly consoleDir?: string;
}

const capitalize = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
/** `gap-detector` → `GapDetector`, `open-alerts-index` → `OpenAlertsIndex`: construct ids and Sids. */
const pascal = (s: string) => s.split("-").map(capitalize).join("");

/** The IoT rule SQL of the presence rule: every lifecycle event, with its topic (the handler reads the event type from it). */
export const presenceRuleSql = (): string =>
  "SELECT *, topic() AS topic FROM '$aws/events/presence/+/+'";

/** The shadow rule's SQL: each classic shadow's reported state after an accepted update, for the device's status. */
export const shadowRuleSql = (): string =>
  "SELECT current.state.reported AS reported, current.version AS shadow_version, topic(3) AS thing_name FROM '$aws/things/+/shadow/update/documents'";

/** The certificate retirement rule's SQL: every job execution that SUCCEEDED (the function picks `certificate.rotate` ones). */
export const certificateRetirementRuleSql = (): string =>
  "SELECT * FROM '$aws/events/jobExecution/+/succeeded'";

/** The certificate retirement rule's name (IoT rule names: `[a-zA-Z0-9_]+`). */
export const certificateRetirementRuleName = (stage: string): string =>
  `medusa_${stage}_certificate_retirement`;

/** Job ids the API creates begin with this (its IAM grants cover only those jobs). */
export const jobIdPrefix = (stage: string): string => `medusa-${stage}-`;

/** A function's only logging right: streams and events in its own log group. */
const ownLogGroup = (logGroup: logs.ILogGroup) =>
  new iam.PolicyStatement({
    sid: "OwnLogGroup",
    actions: ["logs:CreateLogStream", "logs:PutLogEvents"],
    resources: [logGroup.logGroupArn],
  });

/**
 * What the HTTP API logs per request: no path (it holds patient and device
 * ids), no query string, no header, no body, no token claim. The route is
 * `$default`: the function routes.
 */
export const API_ACCESS_LOG_FIELDS = {
  requestId: "$context.requestId",
  time: "$context.requestTimeEpoch",
  method: "$context.httpMethod",
  route: "$context.routeKey",
  status: "$context.status",
  latencyMs: "$context.responseLatency",
  sourceIp: "$context.identity.sourceIp",
  userAgent: "$context.identity.userAgent",
} as const;

/**
 * MeDUSA Link in one stack: the tables, the device policy, the sensor rule
 * with its dead-letter queue, the ingest, re-attribution and API functions
 * (each with a role that may touch only its own tables and actions) and the
 * HTTP API. Composes what the other packages export; no business rules here.
 */
export class MedusaStack extends Stack {
  readonly tables: MedusaTables;
  readonly functions: Readonly<Record<HandlerName, lambda.Function>>;
  /** Fleet provisioning by claim: the template, its hook, the claim policy. */
  readonly provisioning: FleetProvisioning;
  /** Certificate rotation: its provisioning template and hook. */
  readonly rotation: CertificateRotation;

  constructor(scope: Construct, id: string, props: MedusaStackProps) {
    super(scope, id, { terminationProtection: props.settings.stage === "prod", ...props });
    const { settings, bundles } = props;
    const { stage } = settings;
    const production = stage === "prod";
    const removalPolicy = production ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    const logRetention = production
      ? logs.RetentionDays.THREE_MONTHS
      : logs.RetentionDays.ONE_MONTH;
    Tags.of(this).add("project", "medusa-link");
    Tags.of(this).add("stage", stage);

    this.tables = new MedusaTables(this, "Tables", settings);
    const { tables, key: tableKey } = this.tables;

    // HS256: a secret only the API function may read, generated here, never in an environment variable.
    const jwtSecret =
      settings.auth.kind === "secret"
        ? new secretsmanager.Secret(this, "JwtSecret", {
            secretName: settings.auth.secretName,
            description: `MeDUSA Link (${stage}): the HS256 secret API tokens are signed with`,
            generateSecretString: { passwordLength: 64, excludePunctuation: true },
            removalPolicy,
          })
        : undefined;

    // What the API seals timeline cursors with: one key for every container, read like the JWT secret.
    const cursorSecret = new secretsmanager.Secret(this, "CursorSecret", {
      description: `MeDUSA Link (${stage}): the key the API seals timeline cursors with`,
      generateSecretString: { passwordLength: 64, excludePunctuation: true },
      removalPolicy,
    });

    const settleMs = settings.intervalCacheTtlMs + INGEST_TIMEOUT_S * 1000;
    // Pass one, the settle wait, pass two: the timeout leaves a minute for the passes.
    const reattributeTimeoutS = Math.ceil(settleMs / 1000) + 60;
    if (reattributeTimeoutS > 900)
      throw new Error(
        `intervalCacheTtlMs=${settings.intervalCacheTtlMs}: the re-attribution settle time must fit Lambda's 15 minutes`,
      );

    // What the ingest and re-attribution read (`@medusa/lambda`'s configFromEnv).
    const telemetry = {
      MEDUSA_TOPIC_PREFIX: settings.topicPrefix,
      MEDUSA_RETENTION_DAYS: String(settings.retentionDays),
      MEDUSA_INTERVAL_CACHE_TTL_MS: String(settings.intervalCacheTtlMs),
      MEDUSA_INGEST_TIMEOUT_MS: String(INGEST_TIMEOUT_S * 1000),
    };

    const handler = (
      name: HandlerName,
      options: {
        readonly description: string;
        readonly memorySize: number;
        readonly timeout: Duration;
        readonly environment: Record<string, string>;
        /** Lambda's own START/END/REPORT lines; WARN drops them where they would cost more than the work. */
        readonly systemLogLevel: lambda.SystemLogLevel;
        readonly async?: Pick<
          lambda.FunctionOptions,
          "onFailure" | "retryAttempts" | "maxEventAge"
        >;
        readonly reservedConcurrentExecutions?: number;
      },
    ): lambda.Function => {
      const id = pascal(name);
      const functionName = `medusa-${stage}-${name}`;
      const logGroup = new logs.LogGroup(this, `${id}Logs`, {
        logGroupName: `/aws/lambda/${functionName}`,
        retention: logRetention,
        removalPolicy,
      });
      // An explicit role: no AWSLambdaBasicExecutionRole (logs on `*`), only its own log group and tables.
      const role = new iam.Role(this, `${id}Role`, {
        assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com"),
        description: `${functionName}: its own log group and tables, nothing else`,
      });
      role.addToPolicy(ownLogGroup(logGroup));
      const allow = (sid: string, actions: ReadonlyArray<string>, resource: string) => {
        if (actions.length > 0)
          role.addToPolicy(
            new iam.PolicyStatement({ sid, actions: [...actions], resources: [resource] }),
          );
      };
      for (const grant of TABLE_ACCESS[name]) {
        const { tableArn } = tables[grant.table];
        allow(
          // Sids are unique in a policy: an index's names the index.
          `${capitalize(grant.table)}${grant.index ? pascal(grant.index) : "Table"}`,
          grant.actions,
          grant.index ? `${tableArn}/index/${grant.index}` : tableArn,
        );
      }
      if (tableKey) allow("TableKey", tableKeyAccess(name), tableKey.keyArn);
      if (jwtSecret) allow("JwtSecret", SECRET_ACCESS[name], jwtSecret.secretArn);
      allow("CursorSecret", SECRET_ACCESS[name], cursorSecret.secretArn);
      const tableEnv = Object.fromEntries(
        tablesOf(name).map((role) => [TABLE_ENV[role], tables[role].tableName]),
      );
      return new lambda.Function(this, id, {
        functionName,
        description: options.description,
        code: lambda.Code.fromAsset(bundles[name]),
        handler: `${name}.handler`,
        runtime: RUNTIME,
        architecture: lambda.Architecture.ARM_64,
        memorySize: options.memorySize,
        timeout: options.timeout,
        role,
        logGroup,
        loggingFormat: lambda.LoggingFormat.JSON,
        applicationLogLevelV2: lambda.ApplicationLogLevel.INFO,
        systemLogLevelV2: options.systemLogLevel,
        environment: { ...tableEnv, ...options.environment },
        ...options.async,
        ...(options.reservedConcurrentExecutions === undefined
          ? {}
          : { reservedConcurrentExecutions: options.reservedConcurrentExecutions }),
      });
    };

    // ── Ingest: IoT rule → function → tables; failures → one dead-letter queue.
    const ingestDeadLetters = new sqs.Queue(this, "IngestDeadLetterQueue", {
      retentionPeriod: Duration.days(14),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      removalPolicy,
    });
    const ingest = handler("ingest", {
      description: "IoT rule → decode → attribute by event time → packed samples",
      memorySize: 256,
      timeout: Duration.seconds(INGEST_TIMEOUT_S),
      environment: telemetry,
      // One invocation a second per device: Lambda's own three lines each would outweigh the work.
      systemLogLevel: lambda.SystemLogLevel.WARN,
      // The rule invokes asynchronously: its error action sees only failed
      // invocations. A storage failure thrown by the function is retried by
      // Lambda, then lands in the same queue with the original event.
      async: {
        retryAttempts: 2,
        maxEventAge: Duration.hours(6),
        onFailure: new SqsDestination(ingestDeadLetters),
      },
      // A flood (one device's or many) queues in Lambda's asynchronous queue
      // instead of taking the account's concurrency from the API; what waits
      // longer than maxEventAge lands in the dead-letter queue.
      reservedConcurrentExecutions: settings.ingestConcurrency,
    });

    const ruleErrorRole = new iam.Role(this, "SensorRuleErrorRole", {
      assumedBy: new iam.ServicePrincipal("iot.amazonaws.com"),
      description: "The sensor rule's error action: send to the ingest dead-letter queue",
    });
    ruleErrorRole.addToPolicy(
      new iam.PolicyStatement({
        sid: "SendToDeadLetterQueue",
        actions: ["sqs:SendMessage"],
        resources: [ingestDeadLetters.queueArn],
      }),
    );
    const rule = new iot.CfnTopicRule(this, "SensorDataRule", {
      ruleName: sensorRuleName(stage),
      topicRulePayload: {
        description: `Sensor data of every device (${settings.topicPrefix}/+/sensor/data, or $aws/rules/${sensorRuleName(stage)}/${settings.topicPrefix}/+/sensor/data with Basic Ingest) to the ingest function`,
        sql: sensorRuleSql(settings.topicPrefix),
        awsIotSqlVersion: RULE_SQL_VERSION,
        ruleDisabled: false,
        actions: [{ lambda: { functionArn: ingest.functionArn } }],
        errorAction: {
          sqs: {
            queueUrl: ingestDeadLetters.queueUrl,
            roleArn: ruleErrorRole.roleArn,
            useBase64: false,
          },
        },
      },
    });
    ingest.addPermission("InvokedBySensorRule", {
      principal: new iam.ServicePrincipal("iot.amazonaws.com"),
      sourceArn: rule.attrArn,
      sourceAccount: this.account,
    });

    // ── Re-attribution: the events table's stream → function.
    const reattributionFailures = new sqs.Queue(this, "ReattributionFailureQueue", {
      retentionPeriod: Duration.days(14),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      removalPolicy,
    });
    const reattribute = handler("reattribute", {
      description: "Events stream → rewrite stored samples a commit re-attributes (two passes)",
      memorySize: 256,
      timeout: Duration.seconds(reattributeTimeoutS),
      environment: { ...telemetry, MEDUSA_REATTRIBUTION_SETTLE_MS: String(settleMs) },
      systemLogLevel: lambda.SystemLogLevel.INFO,
    });
    // The stream through a key-less view of the table: the event source's own
    // grant would add kms:DescribeKey; the role's TableKey statement is all reading it needs.
    const eventsStream = dynamodb.Table.fromTableAttributes(this, "EventsStream", {
      tableArn: tables.events.tableArn,
      tableStreamArn: tables.events.tableStreamArn as string,
    });
    reattribute.addEventSource(
      new DynamoEventSource(eventsStream, {
        // From the oldest record kept: no commit is skipped on first deployment.
        startingPosition: lambda.StartingPosition.TRIM_HORIZON,
        batchSize: 10,
        bisectBatchOnError: true,
        retryAttempts: 10,
        onFailure: new SqsDlq(reattributionFailures),
        // Commits are only ever inserted.
        filters: [lambda.FilterCriteria.filter({ eventName: lambda.FilterRule.isEqual("INSERT") })],
      }),
    );

    // ── Activity: the sensor table's stream → function → activity blocks.
    // The failure destination receives a batch's shard and sequence numbers, never
    // its items: SQS's own encryption, like the re-attribution queue's.
    const activityFailures = new sqs.Queue(this, "ActivityFailureQueue", {
      retentionPeriod: Duration.days(14),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      removalPolicy,
    });
    const activity = handler("activity", {
      description: "Sensor stream → each changed device's activity blocks, computed again",
      // The metrics are CPU work: more memory is more CPU, and a shorter bill.
      memorySize: 512,
      timeout: Duration.seconds(ACTIVITY_TIMEOUT_S),
      environment: telemetry,
      // One invocation a minute per shard: Lambda's own lines are cheap beside the work.
      systemLogLevel: lambda.SystemLogLevel.INFO,
    });
    const sensorStream = dynamodb.Table.fromTableAttributes(this, "SensorStream", {
      tableArn: tables.sensor.tableArn,
      tableStreamArn: tables.sensor.tableStreamArn as string,
    });
    activity.addEventSource(
      new DynamoEventSource(sensorStream, {
        // From the oldest record kept (24 hours): a first deployment computes the last day.
        startingPosition: lambda.StartingPosition.TRIM_HORIZON,
        // A minute of a shard's records in one batch: a device's block is computed about
        // once a minute, not once a message (the write units the metrics cost).
        batchSize: ACTIVITY_BATCH_SIZE,
        maxBatchingWindow: Duration.seconds(ACTIVITY_WINDOW_S),
        // A device whose refresh failed is reported (its lowest record is retried from);
        // the records before it are done.
        reportBatchItemFailures: true,
        bisectBatchOnError: true,
        retryAttempts: 10,
        // Past this a record is given up (its batch's place goes to the queue): the stream
        // keeps records 24 hours.
        maxRecordAge: Duration.hours(6),
        onFailure: new SqsDlq(activityFailures),
      }),
    );

    // ── API: HTTP API → function. Token settings are parameters.
    const tokenParameter = (
      id: "JwtIssuer" | "JwtAudience",
      claim: string,
      fallback: string | undefined,
      required?: { readonly pattern: string; readonly constraint: string },
    ) =>
      new CfnParameter(this, id, {
        type: "String",
        ...(fallback !== undefined ? { default: fallback } : required ? {} : { default: "" }),
        ...(required
          ? { allowedPattern: required.pattern, constraintDescription: required.constraint }
          : {}),
        description: required
          ? `The \`${claim}\` claim API tokens must carry`
          : `Expected \`${claim}\` claim of API tokens; empty: not checked`,
      }).valueAsString;
    const defaultJwksUrl = settings.auth.kind === "jwks" ? settings.auth.defaultJwksUrl : undefined;
    const auth: Record<string, string> = {
      MEDUSA_CURSOR_SECRET_ARN: cursorSecret.secretArn,
      ...(settings.auth.kind === "userPool"
        ? // Issuer, key set and audience: the pool's, set below once the app client exists.
          { MEDUSA_JWT_TOKEN_USE: "id" }
        : jwtSecret
          ? {
              // The function reads the value at start-up (`loadJwtSecret` of @medusa/api).
              MEDUSA_JWT_SECRET_ARN: jwtSecret.secretArn,
              MEDUSA_JWT_ISSUER: tokenParameter("JwtIssuer", "iss", settings.jwtIssuer),
              MEDUSA_JWT_AUDIENCE: tokenParameter("JwtAudience", "aud", settings.jwtAudience),
            }
          : {
              MEDUSA_JWKS_URL: new CfnParameter(this, "JwksUrl", {
                type: "String",
                allowedPattern: "^https://\\S+$",
                constraintDescription: "an https URL",
                ...(defaultJwksUrl ? { default: defaultJwksUrl } : {}),
                description:
                  "Key set API tokens are verified against, e.g. https://cognito-idp.<region>.amazonaws.com/<pool-id>/.well-known/jwks.json",
              }).valueAsString,
              // A key set signs tokens for every client of the provider: issuer and
              // audience say which are ours, so neither may be empty.
              MEDUSA_JWT_ISSUER: tokenParameter("JwtIssuer", "iss", settings.jwtIssuer, {
                pattern: "^https://\\S+$",
                constraint:
                  "the issuer URL, e.g. https://cognito-idp.<region>.amazonaws.com/<pool-id>",
              }),
              MEDUSA_JWT_AUDIENCE: tokenParameter("JwtAudience", "aud", settings.jwtAudience, {
                pattern: "^\\S+$",
                constraint: "the app client id",
              }),
              // Cognito ID tokens: they carry `email` (the actor) and `aud`; access tokens carry neither.
              MEDUSA_JWT_TOKEN_USE: "id",
            }),
    };
    const api = handler("api", {
      description: "The MeDUSA Link HTTP API (Hono)",
      memorySize: 512,
      timeout: Duration.seconds(10),
      environment: auth,
      systemLogLevel: lambda.SystemLogLevel.INFO,
    });
    const httpApi = new apigwv2.HttpApi(this, "HttpApi", {
      apiName: `medusa-${stage}-api`,
      description: "MeDUSA Link API; the function verifies bearer tokens itself",
      defaultIntegration: new HttpLambdaIntegration("ApiIntegration", api, {
        payloadFormatVersion: apigwv2.PayloadFormatVersion.VERSION_2_0,
      }),
      createDefaultStage: false,
    });
    // `/aws/vendedlogs/`: API Gateway delivers through a log resource policy, which this prefix keeps to one.
    const accessLogs = new logs.LogGroup(this, "HttpApiAccessLogs", {
      logGroupName: `/aws/vendedlogs/apigateway/medusa-${stage}-api`,
      retention: logRetention,
      removalPolicy,
    });
    const apiStage = new apigwv2.HttpStage(this, "HttpApiStage", {
      httpApi,
      stageName: "$default",
      autoDeploy: true,
      // Caps what a runaway client can cost; a clinic's traffic is far below.
      throttle: { rateLimit: 50, burstLimit: 100 },
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(accessLogs),
        format: AccessLogFormat.custom(JSON.stringify(API_ACCESS_LOG_FIELDS)),
      },
    });

    // ── Devices: three policies for the fleet (IoT's 2,048-character limit), bound to each certificate's thing.
    const documents = devicePolicyDocuments(
      settings.topicPrefix,
      sensorRuleName(stage),
      (resource) => this.formatArn({ service: "iot", resource }),
    );
    const policyNames = devicePolicyNames(stage);
    const devicePolicies = DEVICE_POLICY_PARTS.map(
      (part) =>
        // The first keeps the logical id it had as the one device policy (no replacement).
        new iot.CfnPolicy(this, part === "device" ? "DevicePolicy" : `Device${part}Policy`, {
          policyName: policyNames[part],
          policyDocument: documents[part],
        }),
    );
    const [policy] = devicePolicies as [iot.CfnPolicy, ...Array<iot.CfnPolicy>];

    // The lookup's function gets an explicit role too: CDK's default attaches
    // AWSLambdaBasicExecutionRole (logs on every log group).
    const lookupLogs = new logs.LogGroup(this, "IotDataEndpointLookupLogs", {
      retention: logs.RetentionDays.ONE_WEEK,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const lookupRole = new iam.Role(this, "IotDataEndpointLookupRole", {
      assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com"),
      description: "The IoT endpoint lookup at deploy time: its own log group and DescribeEndpoint",
    });
    lookupRole.addToPolicy(ownLogGroup(lookupLogs));
    const endpoint = new cr.AwsCustomResource(this, "IotDataEndpointLookup", {
      onUpdate: {
        service: "Iot",
        action: "describeEndpoint",
        parameters: { endpointType: "iot:Data-ATS" },
        physicalResourceId: cr.PhysicalResourceId.fromResponse("endpointAddress"),
      },
      // DescribeEndpoint has no resource to scope to: IAM requires "*".
      policy: cr.AwsCustomResourcePolicy.fromStatements([
        new iam.PolicyStatement({ actions: ["iot:DescribeEndpoint"], resources: ["*"] }),
      ]),
      installLatestAwsSdk: false,
      role: lookupRole,
      logGroup: lookupLogs,
    });

    // Devices' configuration through their shadows: the API reads and writes the classic
    // shadow of a thing over IoT's data plane, nothing else (no delete, no named shadows' listing).
    api.addEnvironment(
      "MEDUSA_IOT_DATA_ENDPOINT",
      `https://${endpoint.getResponseField("endpointAddress")}`,
    );
    api.addToRolePolicy(
      new iam.PolicyStatement({
        sid: "DeviceShadows",
        actions: ["iot:GetThingShadow", "iot:UpdateThingShadow"],
        resources: [this.formatArn({ service: "iot", resource: "thing/*" })],
      }),
    );

    // ── Fleet: presence events → device statuses; the gap detector on a schedule → alerts on SNS.
    const presence = handler("presence", {
      description: "IoT lifecycle events ($aws/events/presence/…) → the device's status",
      memorySize: 256,
      timeout: Duration.seconds(10),
      environment: telemetry,
      // One invocation per connect and disconnect of every device.
      systemLogLevel: lambda.SystemLogLevel.WARN,
    });
    const presenceRule = new iot.CfnTopicRule(this, "PresenceRule", {
      ruleName: presenceRuleName(stage),
      topicRulePayload: {
        description:
          "Every device's connect and disconnect ($aws/events/presence/connected/+ and disconnected/+) to the presence function",
        sql: presenceRuleSql(),
        awsIotSqlVersion: RULE_SQL_VERSION,
        ruleDisabled: false,
        actions: [{ lambda: { functionArn: presence.functionArn } }],
      },
    });
    presence.addPermission("InvokedByPresenceRule", {
      principal: new iam.ServicePrincipal("iot.amazonaws.com"),
      sourceArn: presenceRule.attrArn,
      sourceAccount: this.account,
    });
    // The reported shadow's summary into the same rows (the fleet view's reported column).
    const shadowRule = new iot.CfnTopicRule(this, "ShadowReportedRule", {
      ruleName: shadowRuleName(stage),
      topicRulePayload: {
        description:
          "Every device's classic shadow after an accepted update ($aws/things/+/shadow/update/documents): its reported state to the presence function",
        sql: shadowRuleSql(),
        awsIotSqlVersion: RULE_SQL_VERSION,
        ruleDisabled: false,
        actions: [{ lambda: { functionArn: presence.functionArn } }],
      },
    });
    presence.addPermission("InvokedByShadowRule", {
      principal: new iam.ServicePrincipal("iot.amazonaws.com"),
      sourceArn: shadowRule.attrArn,
      sourceAccount: this.account,
    });

    // Alerts leave through one topic, encrypted with the stack's key (SNS's AWS-managed key
    // where the stack has none), over TLS only.
    const alertTopic = new sns.Topic(this, "AlertTopic", {
      topicName: `medusa-${stage}-alerts`,
      displayName: `MeDUSA Link (${stage}) data-gap alerts`,
      masterKey: tableKey ?? kms.Alias.fromAliasName(this, "SnsManagedKey", "alias/aws/sns"),
      enforceSSL: true,
    });
    const gapDetector = handler("gap-detector", {
      description: "Scheduled: assigned devices without samples for the gap time → alerts (SNS)",
      memorySize: 256,
      timeout: Duration.seconds(60),
      environment: {
        ...telemetry,
        MEDUSA_GAP_MINUTES: String(settings.gapMinutes),
        MEDUSA_ALERT_TOPIC_ARN: alertTopic.topicArn,
      },
      systemLogLevel: lambda.SystemLogLevel.INFO,
      // Passes must not overlap: the schedule's next one starts a fresh pass anyway.
      reservedConcurrentExecutions: 1,
      async: { retryAttempts: 0 },
    });
    gapDetector.addToRolePolicy(
      new iam.PolicyStatement({
        sid: "PublishAlerts",
        actions: ["sns:Publish"],
        resources: [alertTopic.topicArn],
      }),
    );
    // Publishing to a topic under a customer-managed key: SNS asks for a data key in the
    // publisher's name (an AWS-managed key's own policy allows that already).
    if (tableKey)
      gapDetector.addToRolePolicy(
        new iam.PolicyStatement({
          sid: "AlertTopicKey",
          actions: ["kms:GenerateDataKey", "kms:Decrypt"],
          resources: [tableKey.keyArn],
        }),
      );
    new events.Rule(this, "GapDetectorSchedule", {
      description: `The gap detector every ${settings.gapCheckMinutes} min (gap: ${settings.gapMinutes} min)`,
      schedule: events.Schedule.rate(Duration.minutes(settings.gapCheckMinutes)),
      targets: [new targets.LambdaFunction(gapDetector, { retryAttempts: 0 })],
    });

    // ── Jobs: agent bundles in a private bucket; IoT Jobs presigns their URLs with a read-only role.
    const agentBundles = new s3.Bucket(this, "AgentBundles", {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      versioned: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy,
    });
    const presignRole = new iam.Role(this, "JobsPresignRole", {
      assumedBy: new iam.ServicePrincipal("iot.amazonaws.com", {
        conditions: { StringEquals: { "aws:SourceAccount": this.account } },
      }),
      description: "IoT Jobs presigns agent bundle URLs with it: read the bundles, nothing else",
    });
    presignRole.addToPolicy(
      new iam.PolicyStatement({
        sid: "ReadAgentBundles",
        actions: ["s3:GetObject"],
        resources: [agentBundles.arnForObjects("*")],
      }),
    );
    api.addEnvironment("MEDUSA_AGENT_BUNDLE_BUCKET", agentBundles.bucketName);
    api.addEnvironment("MEDUSA_JOBS_PRESIGN_ROLE_ARN", presignRole.roleArn);
    api.addEnvironment("MEDUSA_JOB_ID_PREFIX", jobIdPrefix(stage));
    const stackJobs = this.formatArn({ service: "iot", resource: `job/${jobIdPrefix(stage)}*` });
    const things = this.formatArn({ service: "iot", resource: "thing/*" });
    api.addToRolePolicy(
      new iam.PolicyStatement({
        sid: "DeviceJobs",
        actions: ["iot:CreateJob", "iot:DescribeJobExecution"],
        resources: [stackJobs, things],
      }),
    );
    api.addToRolePolicy(
      new iam.PolicyStatement({
        sid: "DeviceJobExecutions",
        // DescribeThing: a job's target is the device's thing ARN.
        actions: ["iot:DescribeThing", "iot:ListJobExecutionsForThing"],
        resources: [things],
      }),
    );
    api.addToRolePolicy(
      new iam.PolicyStatement({
        sid: "PassPresignRole",
        actions: ["iam:PassRole"],
        resources: [presignRole.roleArn],
        conditions: { StringEquals: { "iam:PassedToService": "iot.amazonaws.com" } },
      }),
    );

    // ── New devices by claim: the template (thing medusa-<serial>, the device policy), its
    // allow-list hook and the claim policy; claim certificates are made per batch (docs/deploy.md).
    this.provisioning = new FleetProvisioning(this, "Provisioning", {
      stage,
      devicePolicyNames: DEVICE_POLICY_PARTS.map((part) => policyNames[part]),
      allowList: tables.allowList,
      ...(tableKey ? { tableKey } : {}),
      hookCode: lambda.Code.fromAsset(bundles.provisioning),
      runtime: RUNTIME,
      removalPolicy,
      logRetention,
    });
    // The template attaches the device policies by name: they must exist first.
    for (const p of devicePolicies) this.provisioning.template.node.addDependency(p);

    // ── Certificate rotation (`certificate.rotate` jobs): the rotation template and its hook;
    // the API names the template in the jobs it creates.
    this.rotation = new CertificateRotation(this, "Rotation", {
      stage,
      devicePolicyNames: DEVICE_POLICY_PARTS.map((part) => policyNames[part]),
      hookCode: lambda.Code.fromAsset(bundles["rotation-hook"]),
      runtime: RUNTIME,
      removalPolicy,
      logRetention,
    });
    for (const p of devicePolicies) this.rotation.template.node.addDependency(p);
    api.addEnvironment("MEDUSA_ROTATION_TEMPLATE", this.rotation.templateName);

    // The old certificate is retired once the job SUCCEEDED: AWS IoT publishes
    // `$aws/events/jobExecution/{jobId}/succeeded` only while the account's event
    // configuration enables JOB_EXECUTION, which has no CloudFormation resource:
    // UpdateEventConfigurations at deploy time (account-wide; left on when the stack goes).
    const retirement = handler("certificate-retirement", {
      description:
        "Jobs events → after a certificate.rotate SUCCEEDED, the thing's old certificates INACTIVE",
      memorySize: 256,
      timeout: Duration.seconds(30),
      environment: { MEDUSA_JOB_ID_PREFIX: jobIdPrefix(stage) },
      systemLogLevel: lambda.SystemLogLevel.INFO,
      async: { retryAttempts: 2, maxEventAge: Duration.hours(6) },
    });
    retirement.addToRolePolicy(
      new iam.PolicyStatement({
        sid: "ThingPrincipals",
        actions: [...RETIREMENT_IOT_ACCESS.things],
        resources: [this.formatArn({ service: "iot", resource: "thing/*" })],
      }),
    );
    retirement.addToRolePolicy(
      new iam.PolicyStatement({
        sid: "Certificates",
        actions: [...RETIREMENT_IOT_ACCESS.certificates],
        resources: [this.formatArn({ service: "iot", resource: "cert/*" })],
      }),
    );
    const retirementRule = new iot.CfnTopicRule(this, "CertificateRetirementRule", {
      ruleName: certificateRetirementRuleName(stage),
      topicRulePayload: {
        description:
          "Every job execution that SUCCEEDED ($aws/events/jobExecution/+/succeeded) to the certificate retirement function",
        sql: certificateRetirementRuleSql(),
        awsIotSqlVersion: RULE_SQL_VERSION,
        ruleDisabled: false,
        actions: [{ lambda: { functionArn: retirement.functionArn } }],
      },
    });
    retirement.addPermission("InvokedByCertificateRetirementRule", {
      principal: new iam.ServicePrincipal("iot.amazonaws.com"),
      sourceArn: retirementRule.attrArn,
      sourceAccount: this.account,
    });
    // The endpoint lookup's provider function (one per stack) makes this call too, with its role.
    new cr.AwsCustomResource(this, "JobExecutionEvents", {
      onUpdate: {
        service: "Iot",
        action: "updateEventConfigurations",
        parameters: { eventConfigurations: { JOB_EXECUTION: { Enabled: true } } },
        physicalResourceId: cr.PhysicalResourceId.of(`medusa-${stage}-job-execution-events`),
      },
      // UpdateEventConfigurations has no resource to scope to: IAM requires "*".
      policy: cr.AwsCustomResourcePolicy.fromStatements([
        new iam.PolicyStatement({ actions: ["iot:UpdateEventConfigurations"], resources: ["*"] }),
      ]),
      installLatestAwsSdk: false,
      role: lookupRole,
      logGroup: lookupLogs,
    });

    this.functions = {
      ingest,
      reattribute,
      api,
      presence,
      "gap-detector": gapDetector,
      activity,
      "certificate-retirement": retirement,
    };

    // ── The console and its user pool (context userPool=true): the API takes the pool's ID tokens.
    if (settings.auth.kind === "userPool") {
      if (!props.consoleDir)
        throw new Error("the console's build is needed with userPool=true: pnpm -r build");
      const console = new MedusaConsole(this, "Console", {
        stage,
        production,
        consoleDir: props.consoleDir,
        apiEndpoint: httpApi.apiEndpoint,
        domainPrefix: settings.auth.domainPrefix ?? `medusa-${stage}-${this.account}`,
        clinicTimeZone: settings.clinicTimeZone,
        logRetention,
      });
      api.addEnvironment("MEDUSA_JWKS_URL", console.jwksUrl);
      api.addEnvironment("MEDUSA_JWT_ISSUER", console.issuer);
      api.addEnvironment("MEDUSA_JWT_AUDIENCE", console.client.userPoolClientId);
    }

    const output = (id: string, value: string, description: string) =>
      new CfnOutput(this, id, { value, description });
    output("Stage", stage, "Deployment stage");
    output("TopicPrefix", settings.topicPrefix, "MQTT topic prefix the devices must use");
    output(
      "IotDataEndpoint",
      endpoint.getResponseField("endpointAddress"),
      "The devices' MQTT broker (broker_host); also: aws iot describe-endpoint --endpoint-type iot:Data-ATS",
    );
    output(
      "DevicePolicyName",
      policy.ref,
      "IoT policy to connect and use the device's own topics (one of DevicePolicyNames)",
    );
    output(
      "DevicePolicyNames",
      Fn.join(
        ",",
        devicePolicies.map((p) => p.ref),
      ),
      "IoT policies to attach to every device certificate (medusa-register-device attaches them all)",
    );
    output("SensorRuleName", rule.ref, "IoT rule feeding the ingest function");
    output(
      "ProvisioningTemplateName",
      this.provisioning.templateName,
      "Fleet provisioning template devices register with by claim (provisioning.template)",
    );
    output(
      "RotationTemplateName",
      this.rotation.templateName,
      "Provisioning template certificate.rotate jobs name (a device's new certificate)",
    );
    output(
      "ClaimPolicyName",
      this.provisioning.claimPolicy.ref,
      "IoT policy for a batch's claim certificate (medusa-claim-certificate attaches it)",
    );
    output("PresenceRuleName", presenceRule.ref, "IoT rule feeding the presence function");
    output(
      "AlertTopicArn",
      alertTopic.topicArn,
      "SNS topic of data-gap alerts (subscribe an e-mail address or a pager)",
    );
    output(
      "AgentBundleBucket",
      agentBundles.bucketName,
      "Where agent bundles are uploaded for agent.update jobs",
    );
    output("ApiUrl", apiStage.url, "HTTPS endpoint of the API");
    output(
      "ApiAccessLogGroup",
      accessLogs.logGroupName,
      "The API's access log: request id, time, method, status, latency, source IP, user agent",
    );
    if (jwtSecret)
      output("JwtSecretArn", jwtSecret.secretArn, "The HS256 secret API tokens are signed with");
    if (tableKey)
      output("TableKeyArn", tableKey.keyArn, "The customer-managed KMS key of every table");
    output("EventsTable", tables.events.tableName, "Assignment events (the log)");
    output("MappingTable", tables.mapping.tableName, "Device–patient mapping (read model)");
    output("SensorTable", tables.sensor.tableName, "Packed sensor samples");
    output("DeadLetterTable", tables.deadLetters.tableName, "Messages that could not be ingested");
    output(
      "IdempotencyTable",
      tables.idempotency.tableName,
      "The API's idempotency keys (expire by TTL)",
    );
    output(
      "AllowListTable",
      tables.allowList.tableName,
      "Serial numbers that may provision themselves by claim (medusa-allow-list)",
    );
    output(
      "ActivityTable",
      tables.activity.tableName,
      "Activity epochs per patient, device and block",
    );
    output(
      "IngestDeadLetterQueueUrl",
      ingestDeadLetters.queueUrl,
      "Rule deliveries and ingest invocations that failed (storage errors)",
    );
    output(
      "ReattributionFailureQueueUrl",
      reattributionFailures.queueUrl,
      "Stream batches re-attribution gave up on",
    );
    output(
      "ActivityFailureQueueUrl",
      activityFailures.queueUrl,
      "Sensor stream batches the activity function gave up on",
    );
  }
}
