import { readFileSync } from "node:fs";
import {
  DEFAULT_TABLE_NAMES,
  SENSOR_TTL_ATTRIBUTE,
  type TableRole,
  tableDefinitions,
  tableNames,
} from "@medusa/adapters";
import { devicePublishTopics, mayPublish, maySubscribe } from "@medusa/domain";
import { Match } from "aws-cdk-lib/assertions";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HANDLERS, type HandlerName, TABLE_ACCESS, tablesOf } from "./access.js";
import { THING_NAME } from "./iot.js";
import { devicePolicyName, SettingsError, settingsFromContext } from "./settings.js";
import { INGEST_TIMEOUT_S, TABLE_ENV } from "./stack.js";
import {
  type CfnTemplate,
  flatten,
  resourcesOf,
  type Synthesized,
  synthesizer,
} from "./testing.js";

const ROLES: ReadonlyArray<TableRole> = ["events", "mapping", "sensor", "deadLetters"];

// One template per stage, shared by every assertion below (synthesis takes a second or two).
let synth: Awaited<ReturnType<typeof synthesizer>>;
let dev: Synthesized;
let prod: Synthesized;
beforeAll(async () => {
  synth = await synthesizer();
  dev = synth.synth({});
  prod = synth.synth({
    stage: "prod",
    topicPrefix: "clinic-a/medusa",
    jwtSecretName: "medusa/jwt",
  });
}, 60_000);
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

interface Statement {
  readonly Action: string | ReadonlyArray<string>;
  readonly Resource: unknown;
  readonly Effect: string;
  readonly Condition?: unknown;
}
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
      expect(tables.size).toBe(4);
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
          })),
        );
        expect(t?.StreamSpecification).toEqual(
          d.StreamSpecification?.StreamEnabled
            ? { StreamViewType: d.StreamSpecification.StreamViewType }
            : undefined,
        );
      }
    });

    it("have point-in-time recovery; the sensor table expires samples by TTL; events stream new images", () => {
      const s = get();
      const ids = tableIds(s);
      for (const role of ROLES) {
        const t = s.json.Resources[ids[role]]?.Properties;
        expect(t?.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
        expect(t?.TimeToLiveSpecification).toEqual(
          role === "sensor" ? { AttributeName: SENSOR_TTL_ATTRIBUTE, Enabled: true } : undefined,
        );
      }
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

  describe("the device policy", () => {
    const policyOf = (s: Synthesized) => {
      const [[, policy] = []] = resourcesOf(s.json, "AWS::IoT::Policy");
      expect(policy?.Properties?.PolicyName).toBe(devicePolicyName(s.settings.stage));
      const doc = policy?.Properties?.PolicyDocument as { Statement: Array<Statement> };
      const byAction = (action: string) => {
        const statements = doc.Statement.filter((x) => actions(x).includes(action));
        expect(statements, action).toHaveLength(1);
        const statement = statements[0] as Statement;
        expect(actions(statement)).toEqual([action]);
        return {
          statement,
          resources: resources(statement).map((r) => {
            const arn = flatten(r);
            const prefix = "arn:<AWS::Partition>:iot:<AWS::Region>:<AWS::AccountId>:";
            expect(arn.startsWith(prefix), arn).toBe(true);
            return arn.slice(prefix.length);
          }),
        };
      };
      return { doc, byAction };
    };

    it("allows only connect, publish, subscribe and receive, every resource bound to the thing name", () => {
      const { doc, byAction } = policyOf(get());
      expect(doc.Statement.flatMap(actions).sort()).toEqual([
        "iot:Connect",
        "iot:Publish",
        "iot:Receive",
        "iot:Subscribe",
      ]);
      for (const action of ["iot:Connect", "iot:Publish", "iot:Subscribe", "iot:Receive"])
        for (const r of byAction(action).resources) expect(r).toContain(THING_NAME);
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
      expect(resources).toEqual(
        devicePublishTopics(s.settings.topicPrefix, THING_NAME).map((t) => `topic/${t}`),
      );
      // No policy wildcard: a device cannot reach a topic the broker's rules refuse.
      for (const r of resources) expect(r).not.toMatch(/[*?]/);
    });

    it("subscribes and receives only its own commands and shadow responses", () => {
      const s = get();
      const prefix = s.settings.topicPrefix;
      const { byAction } = policyOf(s);
      const filters = byAction("iot:Subscribe").resources;
      expect(filters.every((f) => f.startsWith("topicfilter/"))).toBe(true);
      // What the policy allows, the local broker allows too (for a concrete device).
      const device = "medusa-pi-01";
      for (const f of filters) {
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
            r.startsWith(`topic/$aws/things/${THING_NAME}/shadow/`),
          r,
        ).toBe(true);
    });

    it("agrees with mayPublish for a concrete device, its neighbour and the fleet", () => {
      const s = get();
      const prefix = s.settings.topicPrefix;
      const { resources } = policyOf(s).byAction("iot:Publish");
      const own = resources.map((r) => r.slice("topic/".length).replaceAll(THING_NAME, "pi-1"));
      for (const t of own) expect(mayPublish(prefix, "pi-1", t)).toEqual({ allowed: true });
      for (const t of [`${prefix}/pi-2/sensor/data`, `${prefix}/+/sensor/data`, "medusa/#"]) {
        expect(own).not.toContain(t);
        expect(mayPublish(prefix, "pi-1", t).allowed).toBe(false);
      }
    });
  });

  describe("the sensor rule", () => {
    it("runs the SQL the ingest handler documents into the ingest function, errors to SQS", () => {
      const s = get();
      const prefix = s.settings.topicPrefix;
      const ingest = functionOf(s, "ingest");
      const [[, rule] = []] = resourcesOf(s.json, "AWS::IoT::TopicRule");
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

    it("get the names of their own tables, and only those, by environment", () => {
      const s = get();
      const ids = tableIds(s);
      for (const name of HANDLERS) {
        const env = (
          functionOf(s, name).r.Properties.Environment as {
            Variables: Record<string, unknown>;
          }
        ).Variables;
        const tableVars = Object.keys(env).filter((k) => k.endsWith("_TABLE"));
        expect(tableVars.sort()).toEqual(
          tablesOf(name)
            .map((r) => TABLE_ENV[r])
            .sort(),
        );
        for (const role of tablesOf(name)) expect(env[TABLE_ENV[role]]).toEqual({ Ref: ids[role] });
        expect(env.MEDUSA_TABLE_PREFIX).toBeUndefined();
      }
      const ingest = functionOf(s, "ingest").r.Properties?.Environment as {
        Variables: Record<string, unknown>;
      };
      expect(ingest.Variables).toMatchObject({
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
      const env = (reattribute.r.Properties.Environment as { Variables: Record<string, string> })
        .Variables;
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
  });

  describe("IAM", () => {
    it("gives each function exactly its own table actions, on its own tables and indexes", () => {
      const s = get();
      const ids = tableIds(s);
      for (const name of HANDLERS) {
        const roleId = (functionOf(s, name).r.Properties.Role as { "Fn::GetAtt": [string] })[
          "Fn::GetAtt"
        ][0];
        const granted = statementsOf(s.json, roleId)
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

    it("has no wildcard actions, no managed policies on the functions, no *FullAccess anywhere", () => {
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
              expect.stringMatching(/^(dynamodb:ListStreams|iot:DescribeEndpoint)$/),
            ]),
          );
        if (resources(x).includes("*")) expect(actions(x)).toHaveLength(1);
      }
      for (const [, role] of resourcesOf(s.json, "AWS::IAM::Role"))
        for (const arn of (role.Properties?.ManagedPolicyArns as Array<unknown>) ?? [])
          expect(flatten(arn)).not.toMatch(/FullAccess/);
      for (const name of HANDLERS) {
        const roleId = (functionOf(s, name).r.Properties.Role as { "Fn::GetAtt": [string] })[
          "Fn::GetAtt"
        ][0];
        expect(s.json.Resources[roleId]?.Properties?.ManagedPolicyArns).toBeUndefined();
      }
    });

    it("lets each function write only to its own log group and its own failure queue", () => {
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
            const queue = name === "ingest" ? "IngestDeadLetterQueue" : "ReattributionFailureQueue";
            expect(resources(x).map(flatten)).toEqual([expect.stringContaining(queue)]);
          }
          const other = a.filter((y) => !/^(logs|sqs|dynamodb):/.test(y));
          expect(other, name).toEqual([]);
        }
      }
    });
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

    it("takes issuer and audience as parameters", () => {
      const s = get();
      const env = (
        functionOf(s, "api").r.Properties.Environment as {
          Variables: Record<string, unknown>;
        }
      ).Variables;
      expect(env.MEDUSA_JWT_ISSUER).toEqual({ Ref: "JwtIssuer" });
      expect(env.MEDUSA_JWT_AUDIENCE).toEqual({ Ref: "JwtAudience" });
      expect(s.json.Parameters?.JwtIssuer).toMatchObject({ Type: "String", Default: "" });
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

describe("the stages differ where they should", () => {
  it("dev verifies tokens against a JWKS URL given as an https parameter", () => {
    const env = (
      functionOf(dev, "api").r.Properties.Environment as {
        Variables: Record<string, unknown>;
      }
    ).Variables;
    expect(env.MEDUSA_JWKS_URL).toEqual({ Ref: "JwksUrl" });
    expect(env.MEDUSA_JWT_SECRET).toBeUndefined();
    expect(dev.json.Parameters?.JwksUrl).toMatchObject({
      Type: "String",
      AllowedPattern: "^https://\\S+$",
    });
  });

  it("prod takes an HS256 secret from Secrets Manager by reference, never in the template", () => {
    const env = (
      functionOf(prod, "api").r.Properties.Environment as {
        Variables: Record<string, unknown>;
      }
    ).Variables;
    expect(env.MEDUSA_JWT_SECRET).toBe("{{resolve:secretsmanager:medusa/jwt:SecretString:::}}");
    expect(env.MEDUSA_JWKS_URL).toBeUndefined();
    expect(prod.json.Parameters?.JwksUrl).toBeUndefined();
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
    expect(() => from({ topicPrefix: "a//b" })).toThrow(/topicPrefix/);
    expect(() => from({ retentionDays: "0" })).toThrow(/retentionDays/);
    expect(() => from({ jwksUrl: "https://x", jwtSecretName: "s" })).toThrow(/not both/);
  });
});
