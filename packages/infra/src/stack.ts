import type { TableRole } from "@medusa/adapters";
import {
  CfnOutput,
  CfnParameter,
  Duration,
  RemovalPolicy,
  SecretValue,
  Stack,
  type StackProps,
  Tags,
} from "aws-cdk-lib";
import * as apigwv2 from "aws-cdk-lib/aws-apigatewayv2";
import { HttpLambdaIntegration } from "aws-cdk-lib/aws-apigatewayv2-integrations";
import type * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as iam from "aws-cdk-lib/aws-iam";
import * as iot from "aws-cdk-lib/aws-iot";
import * as lambda from "aws-cdk-lib/aws-lambda";
import { SqsDestination } from "aws-cdk-lib/aws-lambda-destinations";
import { DynamoEventSource, SqsDlq } from "aws-cdk-lib/aws-lambda-event-sources";
import * as logs from "aws-cdk-lib/aws-logs";
import * as sqs from "aws-cdk-lib/aws-sqs";
import * as cr from "aws-cdk-lib/custom-resources";
import type { Construct } from "constructs";
import { type HandlerName, TABLE_ACCESS, tablesOf } from "./access.js";
import type { HandlerBundles } from "./bundles.js";
import { devicePolicyDocument, RULE_SQL_VERSION, sensorRuleSql } from "./iot.js";
import { devicePolicyName, type InfraSettings } from "./settings.js";
import { MedusaTables } from "./tables.js";

/** The variable each table's name reaches a handler by (see `@medusa/adapters`). */
export const TABLE_ENV: Readonly<Record<TableRole, string>> = {
  events: "MEDUSA_EVENTS_TABLE",
  mapping: "MEDUSA_MAPPING_TABLE",
  sensor: "MEDUSA_SENSOR_TABLE",
  deadLetters: "MEDUSA_DEAD_LETTER_TABLE",
};

/**
 * The ingest function's timeout. Re-attribution's correctness argument
 * (`packages/lambda/README.md`) bounds one ingest by it: the second pass waits
 * the cache TTL plus this long.
 */
export const INGEST_TIMEOUT_S = 15;
/** Lambda's runtime: the current Node.js LTS (the bundles target Node 20 and run on it). */
export const RUNTIME = lambda.Runtime.NODEJS_24_X;

export interface MedusaStackProps extends StackProps {
  readonly settings: InfraSettings;
  /** The handlers' bundles, from `bundleHandlers`. */
  readonly bundles: HandlerBundles;
}

const capitalize = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/**
 * MeDUSA Link in one stack: the tables, the device policy, the sensor rule
 * with its dead-letter queue, the ingest, re-attribution and API functions
 * (each with a role that may touch only its own tables and actions) and the
 * HTTP API. Composes what the other packages export; no business rules here.
 */
export class MedusaStack extends Stack {
  readonly tables: MedusaTables;
  readonly functions: Readonly<Record<HandlerName, lambda.Function>>;

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
    const { tables } = this.tables;

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
      },
    ): lambda.Function => {
      const id = capitalize(name);
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
      role.addToPolicy(
        new iam.PolicyStatement({
          sid: "OwnLogGroup",
          actions: ["logs:CreateLogStream", "logs:PutLogEvents"],
          resources: [logGroup.logGroupArn],
        }),
      );
      for (const grant of TABLE_ACCESS[name]) {
        const table = tables[grant.table];
        role.addToPolicy(
          new iam.PolicyStatement({
            sid: `${capitalize(grant.table)}${grant.index ? "Index" : "Table"}`,
            actions: [...grant.actions],
            resources: [grant.index ? `${table.tableArn}/index/${grant.index}` : table.tableArn],
          }),
        );
      }
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
      ruleName: `medusa_${stage}_sensor_data`,
      topicRulePayload: {
        description: `Sensor data of every device (${settings.topicPrefix}/+/sensor/data) to the ingest function`,
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
    reattribute.addEventSource(
      new DynamoEventSource(tables.events as dynamodb.ITable, {
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

    // ── API: HTTP API → function. Token settings are parameters.
    const jwtIssuer = new CfnParameter(this, "JwtIssuer", {
      type: "String",
      default: settings.jwtIssuer ?? "",
      description: "Expected `iss` claim of API tokens; empty: not checked",
    });
    const jwtAudience = new CfnParameter(this, "JwtAudience", {
      type: "String",
      default: settings.jwtAudience ?? "",
      description: "Expected `aud` claim of API tokens; empty: not checked",
    });
    const auth: Record<string, string> =
      settings.auth.kind === "secret"
        ? {
            // A dynamic reference: CloudFormation resolves it at deploy time; the template holds only the name.
            MEDUSA_JWT_SECRET: SecretValue.secretsManager(settings.auth.secretName).unsafeUnwrap(),
          }
        : {
            MEDUSA_JWKS_URL: new CfnParameter(this, "JwksUrl", {
              type: "String",
              allowedPattern: "^https://\\S+$",
              constraintDescription: "an https URL",
              ...(settings.auth.defaultJwksUrl ? { default: settings.auth.defaultJwksUrl } : {}),
              description:
                "Key set API tokens are verified against, e.g. https://cognito-idp.<region>.amazonaws.com/<pool-id>/.well-known/jwks.json",
            }).valueAsString,
          };
    const api = handler("api", {
      description: "The MeDUSA Link HTTP API (Hono)",
      memorySize: 512,
      timeout: Duration.seconds(10),
      environment: {
        ...auth,
        MEDUSA_JWT_ISSUER: jwtIssuer.valueAsString,
        MEDUSA_JWT_AUDIENCE: jwtAudience.valueAsString,
      },
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
    const apiStage = new apigwv2.HttpStage(this, "HttpApiStage", {
      httpApi,
      stageName: "$default",
      autoDeploy: true,
      // Caps what a runaway client can cost; a clinic's traffic is far below.
      throttle: { rateLimit: 50, burstLimit: 100 },
    });

    // ── Devices: one policy for the fleet, bound to each certificate's thing.
    const policy = new iot.CfnPolicy(this, "DevicePolicy", {
      policyName: devicePolicyName(stage),
      policyDocument: devicePolicyDocument(settings.topicPrefix, (resource) =>
        this.formatArn({ service: "iot", resource }),
      ),
    });

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
      logGroup: new logs.LogGroup(this, "IotDataEndpointLookupLogs", {
        retention: logs.RetentionDays.ONE_WEEK,
        removalPolicy: RemovalPolicy.DESTROY,
      }),
    });

    this.functions = { ingest, reattribute, api };

    const output = (id: string, value: string, description: string) =>
      new CfnOutput(this, id, { value, description });
    output("Stage", stage, "Deployment stage");
    output("TopicPrefix", settings.topicPrefix, "MQTT topic prefix the devices must use");
    output(
      "IotDataEndpoint",
      endpoint.getResponseField("endpointAddress"),
      "The devices' MQTT broker (broker_host); also: aws iot describe-endpoint --endpoint-type iot:Data-ATS",
    );
    output("DevicePolicyName", policy.ref, "IoT policy to attach to every device certificate");
    output("SensorRuleName", rule.ref, "IoT rule feeding the ingest function");
    output("ApiUrl", apiStage.url, "HTTPS endpoint of the API");
    output("EventsTable", tables.events.tableName, "Assignment events (the log)");
    output("MappingTable", tables.mapping.tableName, "Device–patient mapping (read model)");
    output("SensorTable", tables.sensor.tableName, "Packed sensor samples");
    output("DeadLetterTable", tables.deadLetters.tableName, "Messages that could not be ingested");
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
  }
}
