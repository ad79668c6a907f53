import { readFileSync } from "node:fs";
import {
  DEFAULT_TABLE_NAMES,
  SENSOR_TTL_ATTRIBUTE,
  type TableRole,
  tableDefinitions,
  tableNames,
  timeToLive,
} from "@medusa/adapters";
import {
  certificateRotationTemplate,
  devicePublishTopics,
  mayPublish,
  maySubscribe,
  parseBasicIngestTopic,
  rotationPublishTopics,
  rotationSubscribeFilters,
  topicMatches,
} from "@medusa/domain";
import { Match } from "aws-cdk-lib/assertions";
import { Option } from "effect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HANDLERS, type HandlerName, TABLE_ACCESS, tablesOf } from "./access.js";
import {
  DEVICE_POLICY_PARTS,
  POLICY_DOCUMENT_MAX_CHARS,
  policyDocumentSize,
  THING_NAME,
} from "./iot.js";
import {
  devicePolicyNames,
  presenceRuleName,
  SettingsError,
  sensorRuleName,
  settingsFromContext,
  shadowRuleName,
} from "./settings.js";
import {
  ACTIVITY_BATCH_SIZE,
  ACTIVITY_TIMEOUT_S,
  ACTIVITY_WINDOW_S,
  INGEST_TIMEOUT_S,
  jobIdPrefix,
  presenceRuleSql,
  shadowRuleSql,
  TABLE_ENV,
} from "./stack.js";
import {
  type CfnTemplate,
  flatten,
  type Resource,
  resourcesOf,
  type Synthesized,
  synthesizer,
} from "./testing.js";

const ROLES: ReadonlyArray<TableRole> = [
  "events",
  "mapping",
  "sensor",
  "deadLetters",
  "idempotency",
  "allowList",
  "deviceStatuses",
  "alerts",
  "activity",
];

// One template per stage, shared by every assertion below (synthesis takes a second or two).
let synth: Awaited<ReturnType<typeof synthesizer>>;
let dev: Synthesized;
let prod: Synthesized;
/** dev with every limit and the key set by context, and a Cognito key set with its issuer and audience. */
let tuned: Synthesized;
const COGNITO = "https://cognito-idp.eu-central-1.amazonaws.com/eu-central-1_AbCdEf123";
beforeAll(async () => {
  synth = await synthesizer();
  dev = synth.synth({});
  prod = synth.synth({
    stage: "prod",
    topicPrefix: "clinic-a/medusa",
    jwtSecretName: "medusa/jwt",
  });
  tuned = synth.synth({
    customerManagedKey: "true",
    ingestConcurrency: "8",
    tableMaxReadUnits: "300",
    tableMaxWriteUnits: "200",
    jwksUrl: `${COGNITO}/.well-known/jwks.json`,
    jwtIssuer: COGNITO,
    jwtAudience: "app-client-id",
  });
}, 300_000);
afterAll(() => synth?.dispose());

/** Logical id → resource, for one type, keyed by a property (a table's name, a function's name). */
const byProperty = (json: CfnTemplate, type: string, property: string) =>
  new Map(resourcesOf(json, type).map(([id, r]) => [String(r.Properties?.[property]), { id, r }]));

const tableIds = (s: Synthesized): Record<TableRole, string> => {
  const tables = byProperty(s.json, "AWS::DynamoDB::Table", "TableName");
  const names = tableNames({ prefix: s.settings.tablePrefix });
  return Object.fromEntries(
    ROLES.map((role) => {
      const found = tables.get(names[role]);
      if (!found) throw new Error(`no table ${names[role]}`);
      return [role, found.id];
    }),
  ) as Record<TableRole, string>;
};

const functionOf = (s: Synthesized, name: HandlerName) => {
  const found = byProperty(s.json, "AWS::Lambda::Function", "FunctionName").get(
    `medusa-${s.settings.stage}-${name}`,
  );
  if (!found) throw new Error(`no function ${name}`);
  return found;
};

/** The logical id of a function's role. */
const roleIdOf = (s: Synthesized, name: HandlerName): string =>
  (functionOf(s, name).r.Properties.Role as { "Fn::GetAtt": [string] })["Fn::GetAtt"][0];

const envOf = (s: Synthesized, name: HandlerName): Record<string, unknown> =>
  (functionOf(s, name).r.Properties.Environment as { Variables: Record<string, unknown> })
    .Variables;

/** The pre-provisioning hook function's role. */
const hookRoleOf = (s: Synthesized): string => {
  const hook = byProperty(s.json, "AWS::Lambda::Function", "FunctionName").get(
    `medusa-${s.settings.stage}-provisioning-hook`,
  );
  if (!hook) throw new Error("no pre-provisioning hook");
  return (hook.r.Properties.Role as { "Fn::GetAtt": [string] })["Fn::GetAtt"][0];
};

/** The one KMS key of a stack that has one. */
const keyOf = (s: Synthesized) => {
  const keys = resourcesOf(s.json, "AWS::KMS::Key");
  expect(keys).toHaveLength(1);
  const [[id, key]] = keys as [[string, Resource]];
  return { id, key };
};

interface Statement {
  readonly Action: string | ReadonlyArray<string>;
  readonly Resource: unknown;
  readonly Effect: string;
  readonly Condition?: unknown;
}
/** The device policies of a stack, in `DEVICE_POLICY_PARTS`' order: name, document, logical id. */
const devicePoliciesOf = (s: Synthesized) => {
  const names = devicePolicyNames(s.settings.stage);
  const byName = byProperty(s.json, "AWS::IoT::Policy", "PolicyName");
  return DEVICE_POLICY_PARTS.map((part) => {
    const found = byName.get(names[part]);
    if (!found) throw new Error(`no IoT policy ${names[part]}`);
    const doc = found.r.Properties?.PolicyDocument as { Statement: Array<Statement> };
    return [names[part], doc, found.id] as const;
  });
};
const actions = (s: Statement) => (typeof s.Action === "string" ? [s.Action] : [...s.Action]);
const resources = (s: Statement) => (Array.isArray(s.Resource) ? s.Resource : [s.Resource]);

/** Every statement of the inline policies attached to a role. */
const statementsOf = (json: CfnTemplate, roleId: string): Array<Statement> =>
  resourcesOf(json, "AWS::IAM::Policy")
    .filter(([, p]) => (p.Properties.Roles as Array<{ Ref: string }>).some((r) => r.Ref === roleId))
    .flatMap(([, p]) => (p.Properties.PolicyDocument as { Statement: Array<Statement> }).Statement);

describe.each([
  ["dev", () => dev],
  ["prod", () => prod],
])("the %s stack", (stage, get) => {
  describe("tables", () => {
    it("are the adapters' table definitions: keys, attribute types, indexes, stream", () => {
      const s = get();
      const definitions = tableDefinitions(tableNames({ prefix: s.settings.tablePrefix }));
      const tables = byProperty(s.json, "AWS::DynamoDB::Table", "TableName");
      expect(tables.size).toBe(ROLES.length);
      for (const role of ROLES) {
        const d = definitions[role];
        const t = tables.get(d.TableName as string)?.r.Properties;
        expect(t, role).toBeDefined();
        expect(t?.BillingMode).toBe("PAY_PER_REQUEST");
        expect(t?.KeySchema).toEqual(d.KeySchema);
        const sorted = (a: unknown) =>
          [...(a as Array<{ AttributeName: string }>)].sort((x, y) =>
            x.AttributeName.localeCompare(y.AttributeName),
          );
        expect(sorted(t?.AttributeDefinitions)).toEqual(sorted(d.AttributeDefinitions));
        expect(t?.GlobalSecondaryIndexes ?? []).toEqual(
          (d.GlobalSecondaryIndexes ?? []).map((g) => ({
            IndexName: g.IndexName,
            KeySchema: g.KeySchema,
            Projection: g.Projection,
            // The cap is a deployment setting, checked below.
            OnDemandThroughput: expect.anything(),
          })),
        );
        expect(t?.StreamSpecification).toEqual(
          d.StreamSpecification?.StreamEnabled
            ? { StreamViewType: d.StreamSpecification.StreamViewType }
            : undefined,
        );
      }
    });

    it("have point-in-time recovery; TTL where the adapters say (samples, idempotency keys); events stream new images", () => {
      const s = get();
      const ids = tableIds(s);
      for (const role of ROLES) {
        const t = s.json.Resources[ids[role]]?.Properties;
        expect(t?.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
        const ttl = timeToLive[role];
        expect(t?.TimeToLiveSpecification).toEqual(
          ttl ? { AttributeName: ttl, Enabled: true } : undefined,
        );
      }
      expect(timeToLive.sensor).toBe(SENSOR_TTL_ATTRIBUTE);
      expect(s.json.Resources[ids.events]?.Properties?.StreamSpecification).toEqual({
        StreamViewType: "NEW_IMAGE",
      });
    });

    it(
      stage === "prod"
        ? "are deletion-protected and retained when the stack goes"
        : "go with the stack",
      () => {
        const s = get();
        for (const [, t] of resourcesOf(s.json, "AWS::DynamoDB::Table")) {
          expect(t.Properties?.DeletionProtectionEnabled).toBe(stage === "prod");
          expect(t.DeletionPolicy).toBe(stage === "prod" ? "Retain" : "Delete");
          expect(t.UpdateReplacePolicy).toBe(stage === "prod" ? "Retain" : "Delete");
        }
      },
    );

    it("are capped on demand at 1,000 read and 1,000 write units a second, every index too", () => {
      const s = get();
      const cap = { MaxReadRequestUnits: 1000, MaxWriteRequestUnits: 1000 };
      for (const [id, t] of resourcesOf(s.json, "AWS::DynamoDB::Table")) {
        expect(t.Properties.OnDemandThroughput, id).toEqual(cap);
        for (const gsi of (t.Properties.GlobalSecondaryIndexes as Array<Record<string, unknown>>) ??
          [])
          expect(gsi.OnDemandThroughput, `${id}/${String(gsi.IndexName)}`).toEqual(cap);
      }
    });

    it(
      stage === "prod"
        ? "are encrypted with the stack's own KMS key, rotated yearly and kept when the stack goes"
        : "are encrypted with DynamoDB's own key by default (no KMS key in the stack)",
      () => {
        const s = get();
        const tables = resourcesOf(s.json, "AWS::DynamoDB::Table");
        expect(tables).toHaveLength(ROLES.length);
        if (stage === "dev") {
          s.template.resourceCountIs("AWS::KMS::Key", 0);
          for (const [id, t] of tables) expect(t.Properties.SSESpecification, id).toBeUndefined();
          return;
        }
        const { id: keyId, key } = keyOf(s);
        expect(key.Properties.EnableKeyRotation).toBe(true);
        expect(key.DeletionPolicy).toBe("Retain");
        s.template.hasResourceProperties("AWS::KMS::Alias", {
          AliasName: "alias/medusa-prod-tables",
          TargetKeyId: { "Fn::GetAtt": [keyId, "Arn"] },
        });
        for (const [id, t] of tables)
          expect(t.Properties.SSESpecification, id).toEqual({
            SSEEnabled: true,
            SSEType: "KMS",
            KMSMasterKeyId: { "Fn::GetAtt": [keyId, "Arn"] },
          });
        expect(s.json.Outputs?.TableKeyArn?.Value).toEqual({ "Fn::GetAtt": [keyId, "Arn"] });
      },
    );

    it("are named by the stage's prefix", () => {
      const s = get();
      const names = [...byProperty(s.json, "AWS::DynamoDB::Table", "TableName").keys()].sort();
      expect(names).toEqual(
        Object.values(DEFAULT_TABLE_NAMES)
          .map((n) => `${stage}-${n}`)
          .sort(),
      );
    });
  });

  describe("the device policies", () => {
    /** The three device policies' statements, as one document: what a certificate carrying all three may do. */
    const policyOf = (s: Synthesized) => {
      const doc = { Statement: devicePoliciesOf(s).flatMap(([, d]) => d.Statement) };
      const byAction = (action: string) => {
        const statements = doc.Statement.filter((x) => actions(x).includes(action));
        expect(statements.length, action).toBeGreaterThan(0);
        for (const x of statements) expect(actions(x)).toEqual([action]);
        const statement = statements[0] as Statement;
        return {
          statement,
          resources: statements.flatMap(resources).map((r) => {
            const arn = flatten(r);
            const prefix = "arn:<AWS::Partition>:iot:<AWS::Region>:<AWS::AccountId>:";
            expect(arn.startsWith(prefix), arn).toBe(true);
            return arn.slice(prefix.length);
          }),
        };
      };
      return { doc, byAction };
    };

    it("are three, named per stage, each within IoT's 2,048 characters, one statement per action in each", () => {
      const s = get();
      const policies = devicePoliciesOf(s);
      expect(policies.map(([name]) => name)).toEqual(
        DEVICE_POLICY_PARTS.map((part) => devicePolicyNames(s.settings.stage)[part]),
      );
      for (const [name, doc] of policies) {
        // Tokens (partition, region, account) as long as the longest real ones (`aws-us-gov`,
        // a 16-character region, 12 digits; iot.test.ts checks the worst case of each part).
        const flat = {
          Version: "2012-10-17",
          Statement: doc.Statement.map((x) => ({
            ...x,
            Action: actions(x).join(),
            Resource: resources(x).map((r) =>
              flatten(r)
                .replace("<AWS::Partition>", "aws-us-gov")
                .replace("<AWS::Region>", "xx-xxxxxxxxxx-9")
                .replace("<AWS::AccountId>", "123456789012"),
            ),
          })),
        };
        expect(policyDocumentSize(flat), name).toBeLessThan(POLICY_DOCUMENT_MAX_CHARS);
        const acts = doc.Statement.flatMap(actions);
        expect(new Set(acts).size, name).toBe(acts.length);
      }
      // Only the device policy lets a client connect; the other two add rights to it.
      expect(
        policies.filter(([, d]) => d.Statement.some((x) => actions(x).includes("iot:Connect"))),
      ).toHaveLength(1);
      expect(s.json.Outputs?.DevicePolicyNames?.Value).toEqual({
        "Fn::Join": [",", policies.map(([, , id]) => ({ Ref: id }))],
      });
    });

    it("allows only connect, publish, subscribe and receive, every resource bound to the thing name", () => {
      const { doc, byAction } = policyOf(get());
      expect([...new Set(doc.Statement.flatMap(actions))].sort()).toEqual([
        "iot:Connect",
        "iot:Publish",
        "iot:Receive",
        "iot:Subscribe",
      ]);
      // Certificate rotation's requests and answers are no thing's topics (the rotation
      // template's hook binds them to the thing; see "certificate rotation").
      const rotation = [...rotationPublishTopics, ...rotationSubscribeFilters];
      for (const action of ["iot:Connect", "iot:Publish", "iot:Subscribe", "iot:Receive"])
        for (const r of byAction(action).resources)
          if (!rotation.includes(r.slice(r.indexOf("/") + 1))) expect(r).toContain(THING_NAME);
      expect(doc.Statement.every((x) => x.Effect === "Allow")).toBe(true);
    });

    it("connects only as the certificate's own, attached thing", () => {
      const { statement, resources } = policyOf(get()).byAction("iot:Connect");
      expect(resources).toEqual([`client/${THING_NAME}`]);
      expect(statement.Condition).toEqual({
        Bool: { "iot:Connection.Thing.IsAttached": "true" },
      });
    });

    it("publishes to exactly the topics the local broker allows (devicePublishTopics)", () => {
      const s = get();
      const { resources } = policyOf(s).byAction("iot:Publish");
      // Across the three policies (each topic in the policy of its capability).
      expect([...resources].sort()).toEqual(
        [
          ...devicePublishTopics(s.settings.topicPrefix, THING_NAME, [
            sensorRuleName(s.settings.stage),
          ]),
          ...rotationPublishTopics,
        ]
          .map((t) => `topic/${t}`)
          .sort(),
      );
      // No policy wildcard but a job id's level below the thing's own jobs, and the rotation
      // templates' names: a device cannot reach a topic the broker's rules refuse.
      for (const r of resources)
        expect(
          r
            .replace(`topic/$aws/things/${THING_NAME}/jobs/*/`, "")
            .replace("$aws/provisioning-templates/*-rotation/", ""),
        ).not.toMatch(/[*?]/);
    });

    it("subscribes and receives only its own commands and shadow responses", () => {
      const s = get();
      const prefix = s.settings.topicPrefix;
      const { byAction } = policyOf(s);
      const filters = byAction("iot:Subscribe").resources;
      expect(filters.every((f) => f.startsWith("topicfilter/"))).toBe(true);
      // What the policy allows, the local broker allows too (for a concrete device).
      const device = "medusa-pi-01";
      const jobs = `$aws/things/${THING_NAME}/jobs/`;
      const rotation = rotationSubscribeFilters.map((f) => `topicfilter/${f}`);
      for (const f of filters.filter(
        (x) => !x.startsWith(`topicfilter/${jobs}`) && !rotation.includes(x),
      )) {
        const filter = f.slice("topicfilter/".length).replaceAll(THING_NAME, device);
        expect(maySubscribe(prefix, device, filter), filter).toEqual({ allowed: true });
      }
      expect(filters).toContain(`topicfilter/${prefix}/${THING_NAME}/commands/#`);
      expect(filters).toContain(`topicfilter/$aws/things/${THING_NAME}/shadow/update/delta`);
      const receive = byAction("iot:Receive").resources;
      expect(receive.every((r) => r.startsWith("topic/"))).toBe(true);
      expect(receive).toContain(`topic/${prefix}/${THING_NAME}/commands/*`);
      for (const r of receive)
        expect(
          r.startsWith(`topic/${prefix}/${THING_NAME}/commands`) ||
            r.startsWith(`topic/$aws/things/${THING_NAME}/shadow/`) ||
            r.startsWith(`topic/${jobs}`) ||
            rotationSubscribeFilters.includes(r.slice("topic/".length)),
          r,
        ).toBe(true);
    });

    it("agrees with mayPublish for a concrete device, its neighbour and the fleet", () => {
      const s = get();
      const prefix = s.settings.topicPrefix;
      const rules = [sensorRuleName(s.settings.stage)];
      const { resources } = policyOf(s).byAction("iot:Publish");
      // Jobs requests: the Jobs service answers them (see "its own Jobs topics").
      const own = resources
        .filter((r) => !r.startsWith(`topic/$aws/things/${THING_NAME}/jobs/`))
        .map((r) => r.slice("topic/".length).replaceAll(THING_NAME, "pi-1"));
      for (const t of own) expect(mayPublish(prefix, "pi-1", t, rules)).toEqual({ allowed: true });
      for (const t of [
        `${prefix}/pi-2/sensor/data`,
        `${prefix}/+/sensor/data`,
        "medusa/#",
        `$aws/rules/${rules[0]}/${prefix}/pi-2/sensor/data`,
        `$aws/rules/other_rule/${prefix}/pi-1/sensor/data`,
        `$aws/rules/${rules[0]}/${prefix}/pi-1/status`,
      ]) {
        expect(own).not.toContain(t);
        expect(mayPublish(prefix, "pi-1", t, rules).allowed).toBe(false);
      }
    });

    it("grants Basic Ingest for the device's own sensor data to the stack's sensor rule, and nothing else under $aws/rules/", () => {
      const s = get();
      const prefix = s.settings.topicPrefix;
      const rule = byProperty(s.json, "AWS::IoT::TopicRule", "RuleName").get(
        sensorRuleName(s.settings.stage),
      )?.r;
      const ruleName = rule?.Properties?.RuleName as string;
      // AWS rule names: [a-zA-Z0-9_] only; this one is a topic level devices publish to.
      expect(ruleName).toBe(`medusa_${stage}_sensor_data`);
      expect(ruleName).toMatch(/^[a-zA-Z0-9_]{1,128}$/);
      const basicIngest = policyOf(s)
        .byAction("iot:Publish")
        .resources.filter((r) => r.startsWith("topic/$aws/rules/"));
      expect(basicIngest).toEqual([
        `topic/$aws/rules/${ruleName}/${prefix}/${THING_NAME}/sensor/data`,
      ]);
      // What the rule then sees: topic() without $aws/rules/{rule}/, which its FROM selects,
      // the plain sensor topic the ingest parses the device id from.
      const sql = String((rule?.Properties?.TopicRulePayload as { Sql?: string } | undefined)?.Sql);
      const from = /FROM '([^']+)'/.exec(sql)?.[1] ?? "";
      const published = (basicIngest[0] as string)
        .slice("topic/".length)
        .replaceAll(THING_NAME, "medusa-pi-01");
      expect(Option.getOrNull(parseBasicIngestTopic(published))).toEqual({
        rule: ruleName,
        topic: `${prefix}/medusa-pi-01/sensor/data`,
      });
      expect(topicMatches(from, `${prefix}/medusa-pi-01/sensor/data`)).toBe(true);
      expect(sql).toContain("topic() AS topic");
    });
  });

  describe("the sensor rule", () => {
    it("runs the SQL the ingest handler documents into the ingest function, errors to SQS", () => {
      const s = get();
      const prefix = s.settings.topicPrefix;
      const ingest = functionOf(s, "ingest");
      const rule = byProperty(s.json, "AWS::IoT::TopicRule", "RuleName").get(
        sensorRuleName(s.settings.stage),
      )?.r;
      const payload = rule?.Properties?.TopicRulePayload as Record<string, unknown>;
      expect(payload.Sql).toBe(
        `SELECT *, topic() AS topic, clientId() AS client_id, timestamp() AS received_at FROM '${prefix}/+/sensor/data'`,
      );
      expect(payload.AwsIotSqlVersion).toBe("2016-03-23");
      expect(payload.RuleDisabled).toBe(false);
      expect(payload.Actions).toEqual([
        { Lambda: { FunctionArn: { "Fn::GetAtt": [ingest.id, "Arn"] } } },
      ]);
      const error = (payload.ErrorAction as { Sqs: Record<string, unknown> }).Sqs;
      const [[queueId] = []] = resourcesOf(s.json, "AWS::SQS::Queue").filter(([id]) =>
        id.startsWith("IngestDeadLetterQueue"),
      );
      expect(error.QueueUrl).toEqual({ Ref: queueId });
      // The rule's role may only send to that queue.
      const roleId = (error.RoleArn as { "Fn::GetAtt": [string, string] })["Fn::GetAtt"][0];
      expect(statementsOf(s.json, roleId)).toEqual([
        expect.objectContaining({
          Action: "sqs:SendMessage",
          Resource: { "Fn::GetAtt": [queueId, "Arn"] },
        }),
      ]);
      // IoT may invoke the ingest function, from this rule only.
      s.template.hasResourceProperties("AWS::Lambda::Permission", {
        FunctionName: { "Fn::GetAtt": [ingest.id, "Arn"] },
        Principal: "iot.amazonaws.com",
        SourceArn: { "Fn::GetAtt": [Match.anyValue(), "Arn"] },
        SourceAccount: { Ref: "AWS::AccountId" },
      });
      // A thrown storage failure (the rule invokes asynchronously) reaches the same queue.
      s.template.hasResourceProperties("AWS::Lambda::EventInvokeConfig", {
        FunctionName: { Ref: ingest.id },
        DestinationConfig: { OnFailure: { Destination: { "Fn::GetAtt": [queueId, "Arn"] } } },
      });
    });

    it("is the SQL in packages/lambda/README.md", () => {
      const readme = readFileSync(new URL("../../lambda/README.md", import.meta.url), "utf8");
      expect(readme).toContain(
        "SELECT *, topic() AS topic, clientId() AS client_id, timestamp() AS received_at FROM 'medusa/+/sensor/data'",
      );
    });
  });

  describe("the functions", () => {
    it("are arm64 on Node.js 24, with their own log group, retention set", () => {
      const s = get();
      for (const name of HANDLERS) {
        const fn = functionOf(s, name).r.Properties ?? {};
        expect(fn.Runtime).toBe("nodejs24.x");
        expect(fn.Architectures).toEqual(["arm64"]);
        expect(fn.Handler).toBe(`${name}.handler`);
        const logGroupId = (fn.LoggingConfig as { LogGroup: { Ref: string } }).LogGroup.Ref;
        const logGroup = s.json.Resources[logGroupId]?.Properties;
        expect(logGroup?.LogGroupName).toBe(`/aws/lambda/medusa-${stage}-${name}`);
        expect(logGroup?.RetentionInDays).toBe(stage === "prod" ? 90 : 30);
      }
    });

    it("ingest has 50 reserved concurrent executions; the others share the account's pool", () => {
      const s = get();
      s.template.hasResourceProperties("AWS::Lambda::Function", {
        FunctionName: `medusa-${stage}-ingest`,
        ReservedConcurrentExecutions: 50,
      });
      for (const name of ["reattribute", "api", "presence", "activity"] as const)
        expect(functionOf(s, name).r.Properties.ReservedConcurrentExecutions).toBeUndefined();
      // Gap detector passes do not overlap.
      expect(functionOf(s, "gap-detector").r.Properties.ReservedConcurrentExecutions).toBe(1);
    });

    it("get the names of their own tables, and only those, by environment", () => {
      const s = get();
      const ids = tableIds(s);
      for (const name of HANDLERS) {
        const env = envOf(s, name);
        const tableVars = Object.keys(env).filter((k) => k.endsWith("_TABLE"));
        expect(tableVars.sort()).toEqual(
          tablesOf(name)
            .map((r) => TABLE_ENV[r])
            .sort(),
        );
        for (const role of tablesOf(name)) expect(env[TABLE_ENV[role]]).toEqual({ Ref: ids[role] });
        expect(env.MEDUSA_TABLE_PREFIX).toBeUndefined();
      }
      expect(envOf(s, "ingest")).toMatchObject({
        MEDUSA_TOPIC_PREFIX: s.settings.topicPrefix,
        MEDUSA_RETENTION_DAYS: "30",
        MEDUSA_INTERVAL_CACHE_TTL_MS: "30000",
        MEDUSA_INGEST_TIMEOUT_MS: String(INGEST_TIMEOUT_S * 1000),
      });
    });

    it("re-attribution is fed by the events stream, and outlives its settle time", () => {
      const s = get();
      const ids = tableIds(s);
      const reattribute = functionOf(s, "reattribute");
      const env = envOf(s, "reattribute");
      const settleMs = Number(env.MEDUSA_REATTRIBUTION_SETTLE_MS);
      // The correctness argument: cache TTL + one ingest's timeout.
      expect(settleMs).toBeGreaterThanOrEqual(
        s.settings.intervalCacheTtlMs + INGEST_TIMEOUT_S * 1000,
      );
      expect(Number(reattribute.r.Properties?.Timeout) * 1000).toBeGreaterThan(settleMs + 30_000);
      expect(Number(functionOf(s, "ingest").r.Properties?.Timeout)).toBe(INGEST_TIMEOUT_S);
      s.template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
        FunctionName: { Ref: reattribute.id },
        EventSourceArn: { "Fn::GetAtt": [ids.events, "StreamArn"] },
        StartingPosition: "TRIM_HORIZON",
        FilterCriteria: { Filters: [{ Pattern: JSON.stringify({ eventName: ["INSERT"] }) }] },
        DestinationConfig: { OnFailure: { Destination: Match.anyValue() } },
      });
    });

    it("activity is fed by the sensor table's stream (both images), a minute a batch, failures reported per record", () => {
      const s = get();
      const ids = tableIds(s);
      const activity = functionOf(s, "activity");
      const sensor = s.json.Resources[ids.sensor]?.Properties;
      expect(sensor?.StreamSpecification).toEqual({ StreamViewType: "NEW_AND_OLD_IMAGES" });
      const [[queueId] = []] = resourcesOf(s.json, "AWS::SQS::Queue").filter(([id]) =>
        id.startsWith("ActivityFailureQueue"),
      );
      expect(queueId).toBeDefined();
      s.template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
        FunctionName: { Ref: activity.id },
        EventSourceArn: { "Fn::GetAtt": [ids.sensor, "StreamArn"] },
        StartingPosition: "TRIM_HORIZON",
        BatchSize: ACTIVITY_BATCH_SIZE,
        MaximumBatchingWindowInSeconds: ACTIVITY_WINDOW_S,
        FunctionResponseTypes: ["ReportBatchItemFailures"],
        BisectBatchOnFunctionError: true,
        MaximumRetryAttempts: 10,
        MaximumRecordAgeInSeconds: 6 * 3600,
        DestinationConfig: {
          OnFailure: { Destination: { "Fn::GetAtt": [queueId, "Arn"] } },
        },
      });
      // Every record: re-attribution's deletions matter; TTL's are skipped by the function
      // (a DynamoDB event source filters on the record's `dynamodb` key only).
      const mapping = resourcesOf(s.json, "AWS::Lambda::EventSourceMapping").find(
        ([, m]) =>
          JSON.stringify(m.Properties.FunctionName) === JSON.stringify({ Ref: activity.id }),
      );
      expect(mapping?.[1].Properties.FilterCriteria).toBeUndefined();
      expect(Number(activity.r.Properties?.Timeout)).toBe(ACTIVITY_TIMEOUT_S);
      expect(envOf(s, "activity")).toMatchObject({ MEDUSA_RETENTION_DAYS: "30" });
      // Its stream rights are the sensor stream's (ListStreams has no resource to name).
      const streamGrants = statementsOf(s.json, roleIdOf(s, "activity"))
        .flatMap((x) => actions(x).flatMap((a) => resources(x).map((r) => `${a} ${flatten(r)}`)))
        .filter((g) =>
          /^dynamodb:(DescribeStream|GetRecords|GetShardIterator|ListStreams)/.test(g),
        );
      expect(streamGrants.length).toBeGreaterThan(0);
      for (const g of streamGrants)
        expect(g).toMatch(new RegExp(`^dynamodb:ListStreams \\*$|${ids.sensor}`));
    });
  });

  describe("IAM", () => {
    it("gives each function exactly its own table actions, on its own tables and indexes", () => {
      const s = get();
      const ids = tableIds(s);
      for (const name of HANDLERS) {
        const granted = statementsOf(s.json, roleIdOf(s, name))
          .filter((x) => actions(x).some((a) => a.startsWith("dynamodb:")))
          .flatMap((x) => actions(x).flatMap((a) => resources(x).map((r) => `${a} ${flatten(r)}`)))
          // The stream's actions belong to the event source mapping, checked below.
          .filter((g) => !/Stream|GetRecords|GetShardIterator/.test(g))
          .sort();
        const expected = TABLE_ACCESS[name]
          .flatMap((g) =>
            g.actions.map((a) => `${a} <${ids[g.table]}.Arn>${g.index ? `/index/${g.index}` : ""}`),
          )
          .sort();
        expect(granted, name).toEqual(expected);
      }
    });

    it("lets only the API read and write devices' shadows (get and update, no delete), on IoT's data endpoint", () => {
      const s = get();
      for (const name of HANDLERS) {
        const shadowStatements = statementsOf(s.json, roleIdOf(s, name)).filter((x) =>
          actions(x).some((a) => a.includes("Shadow")),
        );
        if (name !== "api") {
          expect(shadowStatements, name).toEqual([]);
          continue;
        }
        expect(shadowStatements.map(actions)).toEqual([
          ["iot:GetThingShadow", "iot:UpdateThingShadow"],
        ]);
        expect(JSON.stringify(shadowStatements[0]?.Resource)).toContain(":thing/*");
      }
      expect(JSON.stringify(envOf(s, "api").MEDUSA_IOT_DATA_ENDPOINT)).toContain("https://");
    });

    it("has no wildcard actions, and `*` resources only for ListStreams and DescribeEndpoint", () => {
      const s = get();
      const all = resourcesOf(s.json, "AWS::IAM::Policy").flatMap(
        ([, p]) => (p.Properties.PolicyDocument as { Statement: Array<Statement> }).Statement,
      );
      for (const x of all) {
        for (const a of actions(x)) expect(a, a).not.toContain("*");
        // `*` only where IAM has no resource to name.
        if (resources(x).includes("*"))
          expect(actions(x), JSON.stringify(x)).toEqual(
            expect.arrayContaining([
              expect.stringMatching(
                /^(dynamodb:ListStreams|iot:DescribeEndpoint|iot:UpdateEventConfigurations)$/,
              ),
            ]),
          );
        if (resources(x).includes("*")) expect(actions(x)).toHaveLength(1);
      }
    });

    it("attaches no managed policy to any role; every function, the endpoint lookup's too, has an explicit role", () => {
      const s = get();
      const roles = resourcesOf(s.json, "AWS::IAM::Role");
      for (const [id, role] of roles) expect(role.Properties.ManagedPolicyArns, id).toBeUndefined();
      const functions = resourcesOf(s.json, "AWS::Lambda::Function");
      // The seven handlers, the two pre-provisioning hooks (fleet, rotation) and the custom
      // resources' one provider (the IoT endpoint lookup, the job events' configuration).
      expect(functions).toHaveLength(10);
      for (const [id, fn] of functions) {
        const roleId = (fn.Properties.Role as { "Fn::GetAtt": [string, "Arn"] })["Fn::GetAtt"][0];
        expect(
          roles.map(([r]) => r),
          id,
        ).toContain(roleId);
        // Logs only into its own log group (AWSLambdaBasicExecutionRole would allow every one).
        const logGroupId = (fn.Properties.LoggingConfig as { LogGroup: { Ref: string } }).LogGroup
          .Ref;
        const logging = statementsOf(s.json, roleId).filter((x) =>
          actions(x).some((a) => a.startsWith("logs:")),
        );
        expect(logging.flatMap(resources).map(flatten), id).toEqual([`<${logGroupId}.Arn>`]);
      }
    });

    it("lets each function write only to its own log group and its own failure queue (and the API devices' shadows)", () => {
      const s = get();
      for (const name of HANDLERS) {
        const fn = functionOf(s, name).r.Properties ?? {};
        const roleId = (fn.Role as { "Fn::GetAtt": [string] })["Fn::GetAtt"][0];
        const logGroupId = (fn.LoggingConfig as { LogGroup: { Ref: string } }).LogGroup.Ref;
        for (const x of statementsOf(s.json, roleId)) {
          const a = actions(x);
          if (a.some((y) => y.startsWith("logs:")))
            expect(resources(x).map(flatten)).toEqual([`<${logGroupId}.Arn>`]);
          if (a.some((y) => y.startsWith("sqs:"))) {
            expect(name).not.toBe("api");
            const queue =
              name === "ingest"
                ? "IngestDeadLetterQueue"
                : name === "activity"
                  ? "ActivityFailureQueue"
                  : "ReattributionFailureQueue";
            expect(resources(x).map(flatten)).toEqual([expect.stringContaining(queue)]);
          }
          // KMS and Secrets Manager: see the next two tests; the API's shadow and jobs
          // access, the gap detector's alert topic: see "Fleet and Jobs".
          const other = a.filter(
            (y) =>
              !/^(logs|sqs|dynamodb|kms|secretsmanager):/.test(y) &&
              !(
                name === "api" &&
                /^(iot:(Get|Update)ThingShadow|iot:CreateJob|iot:DescribeJobExecution|iot:DescribeThing|iot:ListJobExecutionsForThing|iam:PassRole)$/.test(
                  y,
                )
              ) &&
              !(name === "gap-detector" && y === "sns:Publish") &&
              !(
                name === "certificate-retirement" &&
                /^iot:(ListThingPrincipals|DescribeCertificate|UpdateCertificate)$/.test(y)
              ),
          );
          expect(other, name).toEqual([]);
        }
      }
    });

    /** `action resource` for every statement of a role whose actions start with `service:`. */
    const grantsOf = (s: Synthesized, roleId: string, service: string) =>
      statementsOf(s.json, roleId)
        .filter((x) => actions(x).some((a) => a.startsWith(`${service}:`)))
        .flatMap((x) => actions(x).flatMap((a) => resources(x).map((r) => `${a} ${flatten(r)}`)));

    it(
      stage === "prod"
        ? "lets each function only decrypt with the tables' key, and nobody else use it"
        : "grants no KMS key (the tables use DynamoDB's own)",
      () => {
        const s = get();
        const key = stage === "prod" ? `<${keyOf(s).id}.Arn>` : undefined;
        // Every function touches a table; none may GenerateDataKey (but the gap detector, for
        // the alert topic the key encrypts), DescribeKey or use another key.
        for (const name of HANDLERS)
          expect(grantsOf(s, roleIdOf(s, name), "kms").sort(), name).toEqual(
            key
              ? name === "gap-detector"
                ? [`kms:Decrypt ${key}`, `kms:Decrypt ${key}`, `kms:GenerateDataKey ${key}`]
                : [`kms:Decrypt ${key}`]
              : [],
          );
        // The pre-provisioning hook reads the allow-list table: the same, and only that.
        const hookRole = hookRoleOf(s);
        expect(grantsOf(s, hookRole, "kms")).toEqual(key ? [`kms:Decrypt ${key}`] : []);
        for (const [id] of resourcesOf(s.json, "AWS::IAM::Role").filter(
          ([id]) => id !== hookRole && !HANDLERS.some((h) => roleIdOf(s, h) === id),
        ))
          expect(grantsOf(s, id, "kms"), id).toEqual([]);
      },
    );

    it(
      stage === "prod"
        ? "lets only the API function read its secrets (the JWT secret, the cursor key), exactly those, only their values"
        : "lets only the API function read the cursor key, exactly that secret, only its value",
      () => {
        const s = get();
        const secrets = resourcesOf(s.json, "AWS::SecretsManager::Secret").map(([id]) => id);
        expect(secrets.map((id) => id.replace(/[0-9A-F]{8}$/, "")).sort()).toEqual(
          stage === "prod" ? ["CursorSecret", "JwtSecret"] : ["CursorSecret"],
        );
        for (const [id] of resourcesOf(s.json, "AWS::IAM::Role")) {
          const api = id === roleIdOf(s, "api");
          expect(grantsOf(s, id, "secretsmanager").sort(), id).toEqual(
            api ? secrets.map((secret) => `secretsmanager:GetSecretValue <${secret}>`).sort() : [],
          );
        }
        const env = envOf(s, "api");
        expect(env.MEDUSA_CURSOR_SECRET_ARN).toEqual({
          Ref: secrets.find((id) => id.startsWith("CursorSecret")),
        });
        expect(env.MEDUSA_CURSOR_SECRET).toBeUndefined();
      },
    );
  });

  describe("the API", () => {
    it("is an HTTP API whose default route invokes the API function (payload 2.0)", () => {
      const s = get();
      const api = functionOf(s, "api");
      s.template.resourceCountIs("AWS::ApiGatewayV2::Api", 1);
      s.template.hasResourceProperties("AWS::ApiGatewayV2::Api", { ProtocolType: "HTTP" });
      s.template.hasResourceProperties("AWS::ApiGatewayV2::Integration", {
        IntegrationType: "AWS_PROXY",
        IntegrationUri: { "Fn::GetAtt": [api.id, "Arn"] },
        PayloadFormatVersion: "2.0",
      });
      s.template.hasResourceProperties("AWS::ApiGatewayV2::Route", { RouteKey: "$default" });
      s.template.hasResourceProperties("AWS::ApiGatewayV2::Stage", {
        StageName: "$default",
        AutoDeploy: true,
        DefaultRouteSettings: { ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 },
      });
      expect(flatten(s.json.Outputs?.ApiUrl?.Value)).toMatch(
        /^https:\/\/<HttpApi\w+>\.execute-api\./,
      );
    });

    it("logs every request to its own log group: request id, time, method, route, status, latency, source IP, user agent; nothing else", () => {
      const s = get();
      const [[stageId, apiStage] = []] = resourcesOf(s.json, "AWS::ApiGatewayV2::Stage");
      const settings = apiStage?.Properties.AccessLogSettings as {
        DestinationArn: unknown;
        Format: string;
      };
      expect(settings.Format, stageId).toBe(
        '{"requestId":"$context.requestId","time":"$context.requestTimeEpoch","method":"$context.httpMethod","route":"$context.routeKey","status":"$context.status","latencyMs":"$context.responseLatency","sourceIp":"$context.identity.sourceIp","userAgent":"$context.identity.userAgent"}',
      );
      // No token claims, no path (patient ids), no query string, header or body, whatever the format becomes.
      expect(settings.Format).not.toMatch(
        /authorizer|\$context\.path|querystring|header|body|requestOverride|error|integration/i,
      );
      const logGroupId = (settings.DestinationArn as { "Fn::GetAtt": [string, "Arn"] })[
        "Fn::GetAtt"
      ][0];
      const logGroup = s.json.Resources[logGroupId];
      expect(logGroup?.Type).toBe("AWS::Logs::LogGroup");
      expect(logGroup?.Properties).toEqual({
        LogGroupName: `/aws/vendedlogs/apigateway/medusa-${stage}-api`,
        RetentionInDays: stage === "prod" ? 90 : 30,
        Tags: expect.any(Array),
      });
      expect(s.json.Outputs?.ApiAccessLogGroup?.Value).toEqual({ Ref: logGroupId });
    });

    it("takes issuer and audience as parameters; never a token secret in the environment", () => {
      const s = get();
      const env = envOf(s, "api");
      expect(env.MEDUSA_JWT_ISSUER).toEqual({ Ref: "JwtIssuer" });
      expect(env.MEDUSA_JWT_AUDIENCE).toEqual({ Ref: "JwtAudience" });
      for (const name of HANDLERS) expect(envOf(s, name).MEDUSA_JWT_SECRET, name).toBeUndefined();
      expect(JSON.stringify(s.json)).not.toContain("resolve:secretsmanager");
    });
  });

  describe("Fleet and Jobs", () => {
    /** `action resource` of every statement of a role. */
    const allGrants = (s: Synthesized, roleId: string) =>
      statementsOf(s.json, roleId).flatMap((x) =>
        actions(x).flatMap((a) => resources(x).map((r) => `${a} ${flatten(r)}`)),
      );
    const arnPrefix = "arn:<AWS::Partition>:iot:<AWS::Region>:<AWS::AccountId>:";

    it("the presence rule sends every connect and disconnect event to the presence function, and only it may invoke it", () => {
      const s = get();
      const presence = functionOf(s, "presence");
      const rule = byProperty(s.json, "AWS::IoT::TopicRule", "RuleName").get(
        presenceRuleName(s.settings.stage),
      );
      const payload = rule?.r.Properties.TopicRulePayload as Record<string, unknown>;
      expect(payload.Sql).toBe(presenceRuleSql());
      const from = /FROM '([^']+)'/.exec(String(payload.Sql))?.[1] ?? "";
      for (const t of [
        "$aws/events/presence/connected/medusa-pi-01",
        "$aws/events/presence/disconnected/medusa-pi-01",
      ])
        expect(topicMatches(from, t), t).toBe(true);
      expect(topicMatches(from, "$aws/events/subscriptions/subscribed/medusa-pi-01")).toBe(false);
      expect(payload.Actions).toEqual([
        { Lambda: { FunctionArn: { "Fn::GetAtt": [presence.id, "Arn"] } } },
      ]);
      s.template.hasResourceProperties("AWS::Lambda::Permission", {
        FunctionName: { "Fn::GetAtt": [presence.id, "Arn"] },
        Principal: "iot.amazonaws.com",
        SourceArn: { "Fn::GetAtt": [rule?.id, "Arn"] },
        SourceAccount: { Ref: "AWS::AccountId" },
      });
    });

    it("the shadow rule sends each classic shadow's reported state after an update to the same function", () => {
      const s = get();
      const presence = functionOf(s, "presence");
      const rule = byProperty(s.json, "AWS::IoT::TopicRule", "RuleName").get(
        shadowRuleName(s.settings.stage),
      );
      const payload = rule?.r.Properties.TopicRulePayload as Record<string, unknown>;
      expect(payload.Sql).toBe(shadowRuleSql());
      const from = /FROM '([^']+)'/.exec(String(payload.Sql))?.[1] ?? "";
      expect(topicMatches(from, "$aws/things/medusa-pi-01/shadow/update/documents")).toBe(true);
      expect(topicMatches(from, "$aws/things/medusa-pi-01/shadow/update/accepted")).toBe(false);
      expect(payload.Actions).toEqual([
        { Lambda: { FunctionArn: { "Fn::GetAtt": [presence.id, "Arn"] } } },
      ]);
      s.template.hasResourceProperties("AWS::Lambda::Permission", {
        FunctionName: { "Fn::GetAtt": [presence.id, "Arn"] },
        Principal: "iot.amazonaws.com",
        SourceArn: { "Fn::GetAtt": [rule?.id, "Arn"] },
      });
    });

    it("the gap detector runs on an EventBridge schedule, with the gap time and the alert topic", () => {
      const s = get();
      const gap = functionOf(s, "gap-detector");
      const [[topicId] = []] = resourcesOf(s.json, "AWS::SNS::Topic");
      expect(envOf(s, "gap-detector")).toMatchObject({
        MEDUSA_GAP_MINUTES: "10",
        MEDUSA_ALERT_TOPIC_ARN: { Ref: topicId },
      });
      s.template.hasResourceProperties("AWS::Events::Rule", {
        ScheduleExpression: "rate(1 minute)",
        State: "ENABLED",
        Targets: [Match.objectLike({ Arn: { "Fn::GetAtt": [gap.id, "Arn"] } })],
      });
      s.template.hasResourceProperties("AWS::Lambda::Permission", {
        FunctionName: { "Fn::GetAtt": [gap.id, "Arn"] },
        Principal: "events.amazonaws.com",
      });
    });

    it("alerts go to one SNS topic, encrypted with the stack's key (SNS's own in a keyless dev), TLS only; only the gap detector may publish, to it alone", () => {
      const s = get();
      const topics = resourcesOf(s.json, "AWS::SNS::Topic");
      expect(topics).toHaveLength(1);
      const [[topicId, topic]] = topics as [[string, Resource]];
      if (stage === "prod")
        expect(topic.Properties.KmsMasterKeyId).toEqual({ "Fn::GetAtt": [keyOf(s).id, "Arn"] });
      else expect(flatten(topic.Properties.KmsMasterKeyId)).toMatch(/:kms:.*:alias\/aws\/sns$/);
      const [[, topicPolicy] = []] = resourcesOf(s.json, "AWS::SNS::TopicPolicy");
      expect(JSON.stringify(topicPolicy?.Properties.PolicyDocument)).toContain(
        '"aws:SecureTransport":"false"',
      );
      for (const [id] of resourcesOf(s.json, "AWS::IAM::Role")) {
        const sns = allGrants(s, id).filter((g) => g.startsWith("sns:"));
        expect(sns, id).toEqual(
          id === roleIdOf(s, "gap-detector") ? [`sns:Publish <${topicId}>`] : [],
        );
      }
    });

    it("gives each thing exactly its own Jobs topics: requests to publish, answers and notifications to subscribe to and receive", () => {
      const s = get();
      const doc = { Statement: devicePoliciesOf(s).flatMap(([, d]) => d.Statement) };
      const of = (action: string) =>
        doc.Statement.filter((x) => actions(x).includes(action))
          .flatMap(resources)
          .map((r) => flatten(r).slice(arnPrefix.length))
          .filter((r) => r.includes("/jobs"));
      const jobs = `$aws/things/${THING_NAME}/jobs`;
      // The four requests, a job id's level the only wildcard.
      expect(of("iot:Publish").sort()).toEqual(
        ["get", "start-next", "*/get", "*/update"].map((r) => `topic/${jobs}/${r}`).sort(),
      );
      // Answers and notifications: everything below the thing's own jobs (the policy's `*`,
      // as the local broker's jobsSubscribeFilters / jobsReceiveTopics), nothing beside it.
      expect(of("iot:Subscribe")).toEqual([`topicfilter/${jobs}/*`]);
      expect(of("iot:Receive")).toEqual([`topic/${jobs}/*`]);
      for (const r of [...of("iot:Publish"), ...of("iot:Subscribe"), ...of("iot:Receive")])
        expect(r).toMatch(
          /^topic(filter)?\/\$aws\/things\/\$\{iot:Connection\.Thing\.ThingName\}\/jobs\//,
        );
      // And its own shadow: the classic shadow's request and response topics, nothing wider.
      const shadow = doc.Statement.flatMap(resources)
        .map((r) => flatten(r).slice(arnPrefix.length))
        .filter((r) => r.includes("/shadow"));
      for (const r of shadow)
        expect(r).toMatch(
          /^topic(filter)?\/\$aws\/things\/\$\{iot:Connection\.Thing\.ThingName\}\/shadow\/(get|update)(\/(accepted|rejected|delta))?$/,
        );
    });

    it("keeps agent bundles in a private bucket: encrypted, no public access, TLS only, versioned", () => {
      const s = get();
      const buckets = resourcesOf(s.json, "AWS::S3::Bucket");
      expect(buckets).toHaveLength(1);
      const [[bucketId, bucket]] = buckets as [[string, Resource]];
      expect(bucket.Properties).toMatchObject({
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [
            { ServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } },
          ],
        },
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
        VersioningConfiguration: { Status: "Enabled" },
      });
      s.template.hasResourceProperties("AWS::S3::BucketPolicy", {
        Bucket: { Ref: bucketId },
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: "Deny",
              Action: "s3:*",
              Condition: { Bool: { "aws:SecureTransport": "false" } },
            }),
          ]),
        },
      });
      expect(envOf(s, "api").MEDUSA_AGENT_BUNDLE_BUCKET).toEqual({ Ref: bucketId });
      expect(s.json.Outputs?.AgentBundleBucket?.Value).toEqual({ Ref: bucketId });
    });

    it("IoT Jobs presigns bundle URLs with a role that may only read the bundles", () => {
      const s = get();
      const [[bucketId] = []] = resourcesOf(s.json, "AWS::S3::Bucket");
      const roleArn = envOf(s, "api").MEDUSA_JOBS_PRESIGN_ROLE_ARN as { "Fn::GetAtt": [string] };
      const roleId = roleArn["Fn::GetAtt"][0];
      const role = s.json.Resources[roleId]?.Properties ?? {};
      expect(role.AssumeRolePolicyDocument).toMatchObject({
        Statement: [
          {
            Action: "sts:AssumeRole",
            Effect: "Allow",
            Principal: { Service: "iot.amazonaws.com" },
            Condition: { StringEquals: { "aws:SourceAccount": { Ref: "AWS::AccountId" } } },
          },
        ],
      });
      expect(allGrants(s, roleId)).toEqual([`s3:GetObject <${bucketId}.Arn>/*`]);
    });

    it("lets the API create and read jobs of the stack's own id prefix, list a thing's executions, and pass only the presign role, to IoT", () => {
      const s = get();
      const api = roleIdOf(s, "api");
      const roleArn = flatten(envOf(s, "api").MEDUSA_JOBS_PRESIGN_ROLE_ARN);
      const jobs = `${arnPrefix}job/${jobIdPrefix(stage)}*`;
      const things = `${arnPrefix}thing/*`;
      const grants = allGrants(s, api).filter((g) => /^(iot:.*Job|iot:DescribeThing|iam:)/.test(g));
      expect(grants.sort()).toEqual(
        [
          `iot:CreateJob ${jobs}`,
          `iot:CreateJob ${things}`,
          `iot:DescribeJobExecution ${jobs}`,
          `iot:DescribeJobExecution ${things}`,
          `iot:ListJobExecutionsForThing ${things}`,
          `iot:DescribeThing ${things}`,
          `iam:PassRole ${roleArn}`,
        ].sort(),
      );
      const pass = statementsOf(s.json, api).find((x) => actions(x).includes("iam:PassRole"));
      expect(pass?.Condition).toEqual({
        StringEquals: { "iam:PassedToService": "iot.amazonaws.com" },
      });
      expect(envOf(s, "api").MEDUSA_JOB_ID_PREFIX).toBe(jobIdPrefix(stage));
      // Nobody else touches jobs, passes a role or reads the bundles (but the presign role).
      const presign = (envOf(s, "api").MEDUSA_JOBS_PRESIGN_ROLE_ARN as { "Fn::GetAtt": [string] })[
        "Fn::GetAtt"
      ][0];
      for (const [id] of resourcesOf(s.json, "AWS::IAM::Role").filter(
        ([id]) => id !== api && id !== presign,
      ))
        expect(
          allGrants(s, id).filter((g) => /^(iot:.*Job|iam:|s3:)/.test(g)),
          id,
        ).toEqual([]);
    });
  });

  it("outputs the IoT data endpoint (looked up at deploy time), the API URL and the table names", () => {
    const s = get();
    const outputs = s.json.Outputs ?? {};
    const ids = tableIds(s);
    expect(Object.keys(outputs)).toEqual(
      expect.arrayContaining(["IotDataEndpoint", "ApiUrl", "DevicePolicyName", "TopicPrefix"]),
    );
    expect(outputs.EventsTable?.Value).toEqual({ Ref: ids.events });
    expect(outputs.MappingTable?.Value).toEqual({ Ref: ids.mapping });
    expect(outputs.SensorTable?.Value).toEqual({ Ref: ids.sensor });
    expect(outputs.DeadLetterTable?.Value).toEqual({ Ref: ids.deadLetters });
    expect(outputs.IdempotencyTable?.Value).toEqual({ Ref: ids.idempotency });
    const [[lookupId, lookup] = []] = resourcesOf(s.json, "Custom::AWS");
    expect(JSON.parse(String(lookup?.Properties?.Create))).toMatchObject({
      service: "Iot",
      action: "describeEndpoint",
      parameters: { endpointType: "iot:Data-ATS" },
    });
    expect(outputs.IotDataEndpoint?.Value).toEqual({
      "Fn::GetAtt": [lookupId, "endpointAddress"],
    });
  });
});

describe("fleet provisioning by claim", () => {
  it.each([
    ["dev", () => dev],
    ["prod", () => prod],
  ] as const)(
    "%s: the template attaches the stack's device policies, its hook reads the stack's allow-list (with the key where there is one), the claim policy and the names are outputs",
    (_, get) => {
      const s = get();
      const { stage } = s.settings;
      const [[, template] = []] = resourcesOf(s.json, "AWS::IoT::ProvisioningTemplate");
      expect(template?.Properties.TemplateName).toBe(`medusa-${stage}-fleet`);
      const body = JSON.parse(String(template?.Properties.TemplateBody)) as {
        Resources: Record<string, { Type: string; Properties: { PolicyName?: string } }>;
      };
      const names = devicePolicyNames(stage);
      expect(
        Object.values(body.Resources)
          .filter((r) => r.Type === "AWS::IoT::Policy")
          .map((r) => r.Properties.PolicyName),
      ).toEqual(DEVICE_POLICY_PARTS.map((part) => names[part]));
      // They exist before the template that attaches them.
      const [[templateId] = []] = resourcesOf(s.json, "AWS::IoT::ProvisioningTemplate");
      const dependsOn = (s.json.Resources[templateId as string] as { DependsOn?: Array<string> })
        .DependsOn;
      for (const [, , id] of devicePoliciesOf(s)) expect(dependsOn).toContain(id);
      const hook = byProperty(s.json, "AWS::Lambda::Function", "FunctionName").get(
        `medusa-${stage}-provisioning-hook`,
      );
      expect(hook?.r.Properties.Handler).toBe("provisioning.handler");
      expect(hook?.r.Properties.Environment).toEqual({
        Variables: { MEDUSA_ALLOW_LIST_TABLE: { Ref: tableIds(s).allowList } },
      });
      const grants = statementsOf(s.json, hookRoleOf(s)).flatMap((x) =>
        actions(x).flatMap((a) => resources(x).map((r) => `${a} ${flatten(r)}`)),
      );
      expect(grants.filter((g) => !g.startsWith("logs:"))).toEqual([
        `dynamodb:GetItem <${tableIds(s).allowList}.Arn>`,
        ...(stage === "prod" ? [`kms:Decrypt <${keyOf(s).id}.Arn>`] : []),
      ]);
      // The template's role: inline rights on its own things, certificates and the device policy.
      const registration = resourcesOf(s.json, "AWS::IAM::Role").filter(([, r]) =>
        String(r.Properties.Description).startsWith(`medusa-${stage}-fleet:`),
      );
      expect(registration).toHaveLength(1);
      const inline = JSON.stringify(registration[0]?.[1].Properties.Policies);
      expect(inline).toContain(":thing/medusa-*");
      for (const part of DEVICE_POLICY_PARTS) expect(inline).toContain(`:policy/${names[part]}"`);
      expect(inline).not.toMatch(/"Resource":"\*"/);
      const [[, claim] = []] = resourcesOf(s.json, "AWS::IoT::Policy").filter(
        ([, p]) => p.Properties.PolicyName === `medusa-${stage}-claim`,
      );
      expect(JSON.stringify(claim?.Properties.PolicyDocument)).toContain("client/provision-*");
      expect(s.json.Outputs?.ProvisioningTemplateName?.Value).toBe(`medusa-${stage}-fleet`);
      expect(s.json.Outputs?.ClaimPolicyName?.Value).toEqual({
        Ref: resourcesOf(s.json, "AWS::IoT::Policy").find(
          ([, p]) => p.Properties.PolicyName === `medusa-${stage}-claim`,
        )?.[0],
      });
    },
  );
});

describe("certificate rotation", () => {
  it.each([
    ["dev", () => dev],
    ["prod", () => prod],
  ] as const)(
    "%s: the rotation template (domain body, enabled, after the device policies), its hook answering within 5 s, its role, and the API's MEDUSA_ROTATION_TEMPLATE",
    (_, get) => {
      const s = get();
      const { stage } = s.settings;
      const templates = byProperty(s.json, "AWS::IoT::ProvisioningTemplate", "TemplateName");
      expect([...templates.keys()].sort()).toEqual([
        `medusa-${stage}-fleet`,
        `medusa-${stage}-rotation`,
      ]);
      const rotation = templates.get(`medusa-${stage}-rotation`);
      if (!rotation) throw new Error("no rotation template");
      const names = devicePolicyNames(stage);
      expect(rotation.r.Properties.Enabled).toBe(true);
      expect(rotation.r.Properties.TemplateType).toBe("FLEET_PROVISIONING");
      expect(JSON.parse(String(rotation.r.Properties.TemplateBody))).toEqual(
        certificateRotationTemplate({
          devicePolicyNames: DEVICE_POLICY_PARTS.map((part) => names[part]),
        }),
      );
      const dependsOn = (s.json.Resources[rotation.id] as { DependsOn?: Array<string> }).DependsOn;
      for (const [, , id] of devicePoliciesOf(s)) expect(dependsOn).toContain(id);

      // Its hook: the rotation-hook bundle, under AWS IoT's 5 s, invoked by this template only.
      const hook = byProperty(s.json, "AWS::Lambda::Function", "FunctionName").get(
        `medusa-${stage}-rotation-hook`,
      );
      if (!hook) throw new Error("no rotation hook");
      expect(hook.r.Properties.Handler).toBe("rotation-hook.handler");
      expect(Number(hook.r.Properties.Timeout)).toBeLessThan(5);
      const hookArn = flatten(
        (rotation.r.Properties.PreProvisioningHook as { TargetArn: unknown }).TargetArn,
      );
      expect(hookArn).toBe(`<${hook.id}.Arn>`);
      expect(
        (rotation.r.Properties.PreProvisioningHook as { PayloadVersion: string }).PayloadVersion,
      ).toBe("2020-04-01");
      const permissions = resourcesOf(s.json, "AWS::Lambda::Permission").filter(
        ([, p]) => flatten(p.Properties.FunctionName) === hookArn,
      );
      expect(permissions).toHaveLength(1);
      expect(permissions[0]?.[1].Properties.Principal).toBe("iot.amazonaws.com");
      expect(flatten(permissions[0]?.[1].Properties.SourceArn)).toMatch(
        new RegExp(`:provisioningtemplate/medusa-${stage}-rotation$`),
      );
      // The hook does no I/O: its role writes its own log group, nothing else.
      const hookRole = (hook.r.Properties.Role as { "Fn::GetAtt": [string] })["Fn::GetAtt"][0];
      expect(statementsOf(s.json, hookRole).flatMap(actions).sort()).toEqual([
        "logs:CreateLogStream",
        "logs:PutLogEvents",
      ]);

      // The template's role: the fleet template's rights, on the stage's account's things,
      // certificates and the device policies; nothing on "*".
      const roleId = (rotation.r.Properties.ProvisioningRoleArn as { "Fn::GetAtt": [string] })[
        "Fn::GetAtt"
      ][0];
      const role = s.json.Resources[roleId];
      const inline = JSON.stringify(role?.Properties?.Policies);
      expect(inline).toContain(":thing/*");
      expect(inline).toContain(":cert/*");
      for (const part of DEVICE_POLICY_PARTS) expect(inline).toContain(`:policy/${names[part]}"`);
      expect(inline).not.toMatch(/"Resource":"\*"/);
      expect(inline).not.toContain("iot:DeleteCertificate");

      expect(envOf(s, "api").MEDUSA_ROTATION_TEMPLATE).toBe(`medusa-${stage}-rotation`);
      expect(s.json.Outputs?.RotationTemplateName?.Value).toBe(`medusa-${stage}-rotation`);
    },
  );

  it.each([
    ["dev", () => dev],
    ["prod", () => prod],
  ] as const)(
    "%s: job execution events on (UpdateEventConfigurations), a rule on SUCCEEDED executions to the retirement function, which may only list a thing's principals and describe and update certificates of the account",
    (_, get) => {
      const s = get();
      const { stage } = s.settings;
      const rule = byProperty(s.json, "AWS::IoT::TopicRule", "RuleName").get(
        `medusa_${stage}_certificate_retirement`,
      );
      if (!rule) throw new Error("no certificate retirement rule");
      const payload = rule.r.Properties.TopicRulePayload as {
        Sql: string;
        RuleDisabled: boolean;
        Actions: Array<{ Lambda: { FunctionArn: unknown } }>;
      };
      expect(payload.Sql).toBe("SELECT * FROM '$aws/events/jobExecution/+/succeeded'");
      expect(payload.RuleDisabled).toBe(false);
      const fn = functionOf(s, "certificate-retirement");
      expect(payload.Actions.map((a) => flatten(a.Lambda.FunctionArn))).toEqual([`<${fn.id}.Arn>`]);
      expect(fn.r.Properties.Handler).toBe("certificate-retirement.handler");
      // Invoked by that rule only.
      const permissions = resourcesOf(s.json, "AWS::Lambda::Permission").filter(
        ([, p]) => flatten(p.Properties.FunctionName) === `<${fn.id}.Arn>`,
      );
      expect(permissions.map(([, p]) => flatten(p.Properties.SourceArn))).toEqual([
        `<${rule.id}.Arn>`,
      ]);
      expect(envOf(s, "certificate-retirement")).toMatchObject({
        MEDUSA_JOB_ID_PREFIX: `medusa-${stage}-`,
        MEDUSA_DEAD_LETTER_TABLE: { Ref: tableIds(s).deadLetters },
      });
      const iotGrants = statementsOf(s.json, roleIdOf(s, "certificate-retirement"))
        .filter((x) => actions(x).some((a) => a.startsWith("iot:")))
        .flatMap((x) => actions(x).flatMap((a) => resources(x).map((r) => `${a} ${flatten(r)}`)));
      const arn = "arn:<AWS::Partition>:iot:<AWS::Region>:<AWS::AccountId>";
      expect(iotGrants.sort()).toEqual(
        [
          `iot:ListThingPrincipals ${arn}:thing/*`,
          `iot:DescribeCertificate ${arn}:cert/*`,
          `iot:UpdateCertificate ${arn}:cert/*`,
        ].sort(),
      );
      // The event configuration: a custom resource calling UpdateEventConfigurations.
      const configs = resourcesOf(s.json, "Custom::AWS").filter(([, r]) =>
        JSON.stringify(r.Properties).includes("updateEventConfigurations"),
      );
      expect(configs).toHaveLength(1);
      const create = JSON.parse(flatten(configs[0]?.[1].Properties.Create)) as {
        service: string;
        action: string;
        parameters: unknown;
      };
      expect(create).toMatchObject({
        service: "Iot",
        action: "updateEventConfigurations",
        parameters: { eventConfigurations: { JOB_EXECUTION: { Enabled: true } } },
      });
      const granted = resourcesOf(s.json, "AWS::IAM::Policy")
        .flatMap(
          ([, p]) => (p.Properties.PolicyDocument as { Statement: Array<Statement> }).Statement,
        )
        .filter((x) => actions(x).includes("iot:UpdateEventConfigurations"));
      expect(granted).toHaveLength(1);
      expect(resources(granted[0] as Statement)).toEqual(["*"]);
      // The API may create jobs only with its stage's prefix, as before.
      expect(envOf(s, "api").MEDUSA_JOB_ID_PREFIX).toBe(`medusa-${stage}-`);
    },
  );

  it("the device policies grant rotation's requests and answers: the domain's lists, the same the local broker grants", () => {
    const granted = (action: string, kind: string) =>
      devicePoliciesOf(dev)
        .flatMap(([, doc]) => doc.Statement)
        .filter((x) => actions(x).includes(action))
        .flatMap((x) => resources(x).map(flatten))
        .filter(
          (r) =>
            r.includes(`:${kind}/$aws/certificates/`) ||
            r.includes(`:${kind}/$aws/provisioning-templates/`),
        )
        .map((r) => r.slice(r.indexOf(`:${kind}/`) + kind.length + 2))
        .sort();
    expect(granted("iot:Publish", "topic")).toEqual([...rotationPublishTopics].sort());
    expect(granted("iot:Subscribe", "topicfilter")).toEqual([...rotationSubscribeFilters].sort());
    expect(granted("iot:Receive", "topic")).toEqual([...rotationSubscribeFilters].sort());
    // The local broker's check takes the same lists: a device may ask a rotation template only.
    expect(
      mayPublish("medusa", "pi-1", "$aws/provisioning-templates/medusa-dev-rotation/provision/json")
        .allowed,
    ).toBe(true);
    expect(
      mayPublish("medusa", "pi-1", "$aws/provisioning-templates/medusa-dev-fleet/provision/json")
        .allowed,
    ).toBe(false);
  });
});

describe("the stages differ where they should", () => {
  it("dev verifies tokens against a JWKS URL, with the issuer, audience and token use it requires", () => {
    const env = envOf(dev, "api");
    expect(env).toMatchObject({
      MEDUSA_JWKS_URL: { Ref: "JwksUrl" },
      MEDUSA_JWT_ISSUER: { Ref: "JwtIssuer" },
      MEDUSA_JWT_AUDIENCE: { Ref: "JwtAudience" },
      // Cognito ID tokens: the API reads `email`, which access tokens lack.
      MEDUSA_JWT_TOKEN_USE: "id",
    });
    expect(env.MEDUSA_JWT_SECRET_ARN).toBeUndefined();
    expect(dev.json.Parameters?.JwksUrl).toMatchObject({
      Type: "String",
      AllowedPattern: "^https://\\S+$",
    });
    // No default: a deployment without an issuer and an audience stops at the parameters.
    expect(dev.json.Parameters?.JwtIssuer).toEqual({
      Type: "String",
      AllowedPattern: "^https://\\S+$",
      ConstraintDescription: expect.any(String),
      Description: expect.any(String),
    });
    expect(dev.json.Parameters?.JwtAudience).toEqual({
      Type: "String",
      AllowedPattern: "^\\S+$",
      ConstraintDescription: expect.any(String),
      Description: expect.any(String),
    });
  });

  it("the context gives the JWKS parameters their defaults", () => {
    expect(tuned.json.Parameters).toMatchObject({
      JwksUrl: { Default: `${COGNITO}/.well-known/jwks.json` },
      JwtIssuer: { Default: COGNITO },
      JwtAudience: { Default: "app-client-id" },
    });
  });

  it("prod verifies HS256 tokens with a secret the stack generates, passed by ARN, never by value", () => {
    const [[secretId, secret] = []] = resourcesOf(prod.json, "AWS::SecretsManager::Secret");
    expect(secret?.Properties).toMatchObject({
      Name: "medusa/jwt",
      GenerateSecretString: { PasswordLength: 64, ExcludePunctuation: true },
    });
    expect(secret?.Properties.SecretString).toBeUndefined();
    expect(secret?.DeletionPolicy).toBe("Retain");
    const env = envOf(prod, "api");
    expect(env.MEDUSA_JWT_SECRET_ARN).toEqual({ Ref: secretId });
    expect(env.MEDUSA_JWT_SECRET).toBeUndefined();
    expect(env.MEDUSA_JWKS_URL).toBeUndefined();
    expect(env.MEDUSA_JWT_TOKEN_USE).toBeUndefined();
    expect(envOf(prod, "ingest").MEDUSA_JWT_SECRET_ARN).toBeUndefined();
    expect(prod.json.Parameters?.JwksUrl).toBeUndefined();
    // Issuer and audience stay optional with a secret of our own.
    expect(prod.json.Parameters?.JwtIssuer).toMatchObject({ Type: "String", Default: "" });
    expect(prod.json.Outputs?.JwtSecretArn?.Value).toEqual({ Ref: secretId });
  });

  it("the context sets the key in dev, the ingest's concurrency and the tables' caps", () => {
    const { id: keyId, key } = keyOf(tuned);
    expect(key.Properties.EnableKeyRotation).toBe(true);
    // A dev key goes with its stack (after KMS's waiting period).
    expect(key.DeletionPolicy).toBe("Delete");
    const cap = { MaxReadRequestUnits: 300, MaxWriteRequestUnits: 200 };
    for (const [id, t] of resourcesOf(tuned.json, "AWS::DynamoDB::Table")) {
      expect(t.Properties.SSESpecification, id).toMatchObject({
        KMSMasterKeyId: { "Fn::GetAtt": [keyId, "Arn"] },
      });
      expect(t.Properties.OnDemandThroughput, id).toEqual(cap);
    }
    expect(functionOf(tuned, "ingest").r.Properties.ReservedConcurrentExecutions).toBe(8);
    for (const name of HANDLERS)
      expect(statementsOf(tuned.json, roleIdOf(tuned, name))).toContainEqual(
        expect.objectContaining({
          Action: "kms:Decrypt",
          Resource: { "Fn::GetAtt": [keyId, "Arn"] },
        }),
      );
  });

  it("the context sets the gap time and the gap detector's schedule; out-of-range values stop synthesis", () => {
    const s = synth.synth({ gapMinutes: "30", gapCheckMinutes: "5" });
    expect(envOf(s, "gap-detector").MEDUSA_GAP_MINUTES).toBe("30");
    s.template.hasResourceProperties("AWS::Events::Rule", {
      ScheduleExpression: "rate(5 minutes)",
    });
    expect(() => synth.synth({ gapMinutes: "0" })).toThrow(/gapMinutes/);
    expect(() => synth.synth({ gapMinutes: String(8 * 24 * 60) })).toThrow(/gapMinutes/);
    expect(() => synth.synth({ gapCheckMinutes: "1.5" })).toThrow(/gapCheckMinutes/);
  });

  it("prod is termination-protected; dev is not", () => {
    expect(prod.stack.terminationProtection).toBe(true);
    expect(dev.stack.terminationProtection).toBe(false);
    expect(prod.stack.stackName).toBe("MedusaLink-prod");
  });
});

describe("context", () => {
  const from = (context: Record<string, unknown>) => settingsFromContext((k) => context[k]);

  it("defaults to a dev stage on the medusa prefix with dev- tables", () => {
    expect(from({})).toMatchObject({
      stage: "dev",
      topicPrefix: "medusa",
      tablePrefix: "dev-",
      retentionDays: 30,
      auth: { kind: "jwks" },
    });
    expect(from({ tablePrefix: "" }).tablePrefix).toBe("");
  });

  it("refuses what would deploy something wrong, naming the key", () => {
    expect(() => from({ stage: "production" })).toThrow(SettingsError);
    expect(() => from({ stage: "production" })).toThrow(/stage=production/);
    expect(() => from({ topicPrefix: "medusa/#" })).toThrow(/topicPrefix/);
    expect(() => from({ topicPrefix: "$aws" })).toThrow(/topicPrefix/);
    // Every device topic in the IoT policies carries it (iot.test.ts: sizes at 64).
    expect(from({ topicPrefix: "a".repeat(64) }).topicPrefix).toHaveLength(64);
    expect(() => from({ topicPrefix: "a".repeat(65) })).toThrow(/topicPrefix.*at most 64/);
    expect(() => from({ topicPrefix: "a//b" })).toThrow(/topicPrefix/);
    expect(() => from({ retentionDays: "0" })).toThrow(/retentionDays/);
    expect(() => from({ jwksUrl: "https://x", jwtSecretName: "s" })).toThrow(/not both/);
    expect(() => from({ customerManagedKey: "yes" })).toThrow(/customerManagedKey=yes/);
    expect(() => from({ ingestConcurrency: "0" })).toThrow(/ingestConcurrency=0/);
    expect(() => from({ tableMaxWriteUnits: "lots" })).toThrow(/tableMaxWriteUnits=lots/);
    expect(() => from({ tableMaxReadUnits: "1.5" })).toThrow(/tableMaxReadUnits=1.5/);
  });

  it("encrypts production tables with the stack's key always; dev only when asked", () => {
    expect(from({ stage: "prod" }).customerManagedKey).toBe(true);
    expect(from({ stage: "prod", customerManagedKey: "true" }).customerManagedKey).toBe(true);
    expect(() => from({ stage: "prod", customerManagedKey: "false" })).toThrow(SettingsError);
    expect(() => from({ stage: "prod", customerManagedKey: false })).toThrow(
      /customerManagedKey=false/,
    );
    expect(from({}).customerManagedKey).toBe(false);
    expect(from({ customerManagedKey: "true" }).customerManagedKey).toBe(true);
    expect(from({ customerManagedKey: true }).customerManagedKey).toBe(true);
  });

  it("limits the ingest to 50 concurrent executions and the tables to 1,000 units a second", () => {
    expect(from({})).toMatchObject({
      ingestConcurrency: 50,
      tableMaxReadUnits: 1000,
      tableMaxWriteUnits: 1000,
    });
    expect(from({ ingestConcurrency: "20", tableMaxWriteUnits: 4000 })).toMatchObject({
      ingestConcurrency: 20,
      tableMaxWriteUnits: 4000,
    });
  });
});

describe("the console and its user pool (userPool=true)", () => {
  let pool: Synthesized;
  beforeAll(() => {
    pool = synth.synth({ userPool: "true", clinicTimeZone: "Europe/Berlin" });
  }, 180_000);
  const one = (type: string): [string, Resource] => {
    const found = resourcesOf(pool.json, type);
    expect(found, type).toHaveLength(1);
    return found[0] as [string, Resource];
  };
  /** The console's bucket (the stack has the agent bundles' bucket too). */
  const consoleBucket = (): [string, Resource] => {
    const found = resourcesOf(pool.json, "AWS::S3::Bucket").filter(([id]) =>
      id.startsWith("ConsoleFiles"),
    );
    expect(found).toHaveLength(1);
    return found[0] as [string, Resource];
  };
  const distribution = () =>
    one("AWS::CloudFront::Distribution")[1].Properties.DistributionConfig as {
      DefaultCacheBehavior: Record<string, unknown>;
      CacheBehaviors: Array<Record<string, unknown>>;
      Origins: Array<Record<string, unknown>>;
    };

  it("creates the user pool: no self sign-up, groups clinician and viewer, a hosted UI domain", () => {
    const [poolId, userPool] = one("AWS::Cognito::UserPool");
    expect(userPool.Properties.AdminCreateUserConfig).toMatchObject({
      AllowAdminCreateUserOnly: true,
    });
    const groups = resourcesOf(pool.json, "AWS::Cognito::UserPoolGroup").map(
      ([, g]) => g.Properties.GroupName,
    );
    expect(groups.sort()).toEqual(["clinician", "viewer"]);
    const [, domain] = one("AWS::Cognito::UserPoolDomain");
    expect(domain.Properties.UserPoolId).toEqual({ Ref: poolId });
    expect(Object.keys(pool.json.Outputs ?? {})).toEqual(
      expect.arrayContaining(["ConsoleUrl", "UserPoolId", "UserPoolClientId", "SignInDomain"]),
    );
  });

  it("gives the console a public app client: authorization code only, no secret, the console's URLs", () => {
    const [, client] = one("AWS::Cognito::UserPoolClient");
    const [distributionId] = one("AWS::CloudFront::Distribution");
    expect(client.Properties).toMatchObject({
      GenerateSecret: false,
      AllowedOAuthFlows: ["code"],
      AllowedOAuthFlowsUserPoolClient: true,
      AllowedOAuthScopes: ["openid", "email"],
      SupportedIdentityProviders: ["COGNITO"],
    });
    const urls = (key: string) => (client.Properties[key] as Array<unknown>).map(flatten);
    expect(urls("CallbackURLs")).toEqual([
      `https://<${distributionId}.DomainName>/sign-in/callback`,
    ]);
    expect(urls("LogoutURLs")).toEqual([`https://<${distributionId}.DomainName>/sign-in`]);
  });

  it("wires the API's token checks to the pool: its issuer, its key set, the app client as audience", () => {
    const [poolId] = one("AWS::Cognito::UserPool");
    const [clientId] = one("AWS::Cognito::UserPoolClient");
    const env = envOf(pool, "api");
    expect(flatten(env.MEDUSA_JWT_ISSUER)).toBe(`<${poolId}.ProviderURL>`);
    expect(flatten(env.MEDUSA_JWKS_URL)).toBe(`<${poolId}.ProviderURL>/.well-known/jwks.json`);
    expect(env.MEDUSA_JWT_AUDIENCE).toEqual({ Ref: clientId });
    expect(env.MEDUSA_JWT_TOKEN_USE).toBe("id");
    expect(pool.json.Parameters?.JwksUrl).toBeUndefined();
  });

  it("serves the console from a private bucket through CloudFront (OAC); /api/* and /fhir/* go to the HTTP API over HTTPS only", () => {
    const [bucketId, bucket] = consoleBucket();
    expect(bucket.Properties.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    expect(bucket.Properties.WebsiteConfiguration).toBeUndefined();
    const [distributionId] = one("AWS::CloudFront::Distribution");
    const [, bucketPolicy] = resourcesOf(pool.json, "AWS::S3::BucketPolicy").find(
      ([, p]) => JSON.stringify(p.Properties.Bucket) === JSON.stringify({ Ref: bucketId }),
    ) as [string, Resource];
    const statements = (
      bucketPolicy.Properties.PolicyDocument as { Statement: Array<Record<string, unknown>> }
    ).Statement;
    const allows = statements.filter((s) => s.Effect === "Allow");
    expect(allows).toHaveLength(1);
    expect(allows[0]).toMatchObject({
      Action: "s3:GetObject",
      Principal: { Service: "cloudfront.amazonaws.com" },
    });
    expect(JSON.stringify(allows[0]?.Condition)).toContain(distributionId);
    expect(statements).toContainEqual(
      expect.objectContaining({
        Effect: "Deny",
        Condition: { Bool: { "aws:SecureTransport": "false" } },
      }),
    );
    const config = distribution();
    const s3Origin = config.Origins.find((o) => "S3OriginConfig" in o);
    expect(s3Origin?.OriginAccessControlId).toBeDefined();
    expect(flatten(s3Origin?.DomainName)).toBe(`<${bucketId}.RegionalDomainName>`);
    expect(config.DefaultCacheBehavior).toMatchObject({
      TargetOriginId: s3Origin?.Id,
      ViewerProtocolPolicy: "redirect-to-https",
      AllowedMethods: ["GET", "HEAD"],
    });
    const apiOrigin = config.Origins.find((o) => "CustomOriginConfig" in o);
    expect(apiOrigin?.CustomOriginConfig).toMatchObject({ OriginProtocolPolicy: "https-only" });
    expect(JSON.stringify(apiOrigin?.DomainName)).toContain("ApiEndpoint");
    expect(config.CacheBehaviors.map((b) => b.PathPattern).sort()).toEqual(["/api/*", "/fhir/*"]);
    for (const b of config.CacheBehaviors)
      expect(b).toMatchObject({
        TargetOriginId: apiOrigin?.Id,
        ViewerProtocolPolicy: "https-only",
        // CloudFront's managed CachingDisabled and AllViewerExceptHostHeader.
        CachePolicyId: "4135ea2d-6df8-44a3-9df3-4b5a84be39ad",
        OriginRequestPolicyId: "b689b0a8-53d0-40ab-baf2-68738e2966ac",
        AllowedMethods: expect.arrayContaining(["POST", "GET"]),
      });
  });

  it("sends security headers with a CSP that lets the console reach only its origin and Cognito", () => {
    const config = distribution();
    const policies = new Map(resourcesOf(pool.json, "AWS::CloudFront::ResponseHeadersPolicy"));
    const consolePolicy = policies.get(
      (config.DefaultCacheBehavior.ResponseHeadersPolicyId as { Ref: string }).Ref,
    );
    expect(consolePolicy).toBeDefined();
    const headers = (
      (consolePolicy as Resource).Properties.ResponseHeadersPolicyConfig as {
        SecurityHeadersConfig: Record<string, Record<string, unknown>>;
      }
    ).SecurityHeadersConfig;
    expect(headers.StrictTransportSecurity).toMatchObject({ AccessControlMaxAgeSec: 31_536_000 });
    expect(headers.ContentTypeOptions).toMatchObject({ Override: true });
    expect(headers.FrameOptions).toMatchObject({ FrameOption: "DENY" });
    const csp = flatten(headers.ContentSecurityPolicy?.ContentSecurityPolicy);
    const connect = /connect-src ([^;]*)/.exec(csp)?.[1]?.split(" ");
    expect(connect).toEqual([
      "'self'",
      "https://cognito-idp.<AWS::Region>.amazonaws.com",
      expect.stringMatching(
        /^https:\/\/medusa-dev-<AWS::AccountId>\.auth\.<AWS::Region>\.amazoncognito\.com$/,
      ),
    ]);
    expect(csp).toContain("script-src 'self';");
    expect(csp).toContain("frame-ancestors 'none'");
  });

  it("writes /console-config.json at deployment with the pool's issuer, the app client and the console's URLs", () => {
    const [poolId] = one("AWS::Cognito::UserPool");
    const [clientId] = one("AWS::Cognito::UserPoolClient");
    const [distributionId] = one("AWS::CloudFront::Distribution");
    const [bucketId] = consoleBucket();
    const [, deployment] = one("Custom::CDKBucketDeployment");
    expect(deployment.Properties.DestinationBucketName).toEqual({ Ref: bucketId });
    expect(deployment.Properties.DistributionId).toEqual({ Ref: distributionId });
    const markers = (deployment.Properties.SourceMarkers as Array<Record<string, unknown>>).flatMap(
      (m) => Object.values(m).map(flatten),
    );
    expect(markers).toEqual(
      expect.arrayContaining([
        `<${poolId}.ProviderURL>`,
        `<${clientId}>`,
        `<${distributionId}.DomainName>`,
      ]),
    );
  });

  it("copies the files with a role of its own: no managed policy, no wildcard action, no `*` resource", () => {
    for (const [id, role] of resourcesOf(pool.json, "AWS::IAM::Role"))
      expect(role.Properties.ManagedPolicyArns, id).toBeUndefined();
    const [, deployment] = one("Custom::CDKBucketDeployment");
    const fnId = (deployment.Properties.ServiceToken as { "Fn::GetAtt": [string] })[
      "Fn::GetAtt"
    ][0];
    const fn = pool.json.Resources[fnId]?.Properties ?? {};
    const roleId = (fn.Role as { "Fn::GetAtt": [string] })["Fn::GetAtt"][0];
    const logGroupId = (fn.LoggingConfig as { LogGroup: { Ref: string } }).LogGroup.Ref;
    const statements = statementsOf(pool.json, roleId);
    expect(statements.map((s) => actions(s).join(","))).toEqual([
      "logs:CreateLogStream,logs:PutLogEvents",
      "s3:GetObject",
      "s3:ListBucket",
      "s3:GetObject,s3:PutObject,s3:DeleteObject",
      "cloudfront:CreateInvalidation,cloudfront:GetInvalidation",
    ]);
    expect(resources(statements[0] as Statement).map(flatten)).toEqual([`<${logGroupId}.Arn>`]);
    for (const s of statements) {
      for (const a of actions(s)) expect(a).not.toContain("*");
      expect(resources(s)).not.toContain("*");
    }
  });

  it("refuses the pool with another token source, and a time zone that is none", () => {
    const from = (context: Record<string, unknown>) => settingsFromContext((k) => context[k]);
    expect(from({ userPool: "true" }).auth).toEqual({ kind: "userPool" });
    expect(() => from({ userPool: "true", jwksUrl: "https://x" })).toThrow(/userPool/);
    expect(() => from({ userPool: "true", jwtSecretName: "s" })).toThrow(/userPool/);
    expect(() => from({ clinicTimeZone: "Mars/Olympus" })).toThrow(/clinicTimeZone/);
    expect(() => from({ authDomainPrefix: "Has Spaces" })).toThrow(/authDomainPrefix/);
  });
});
