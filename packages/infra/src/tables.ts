import {
  type TableNames,
  type TableRole,
  tableDefinitions,
  tableNames,
  timeToLive,
} from "@medusa/adapters";
import { RemovalPolicy } from "aws-cdk-lib";
import * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as kms from "aws-cdk-lib/aws-kms";
import { Construct } from "constructs";
import type { InfraSettings } from "./settings.js";

/** A `CreateTable` input, as the adapters export it. */
type TableDefinition = ReturnType<typeof tableDefinitions>[TableRole];
type AttributeDefinition = NonNullable<TableDefinition["AttributeDefinitions"]>[number];
type KeySchemaElement = NonNullable<TableDefinition["KeySchema"]>[number];
type Projection = NonNullable<TableDefinition["GlobalSecondaryIndexes"]>[number]["Projection"];

const attributeType = (type: string | undefined): dynamodb.AttributeType => {
  switch (type) {
    case "S":
      return dynamodb.AttributeType.STRING;
    case "N":
      return dynamodb.AttributeType.NUMBER;
    case "B":
      return dynamodb.AttributeType.BINARY;
    default:
      throw new Error(`unknown DynamoDB attribute type ${type}`);
  }
};

const keys = (
  table: string,
  schema: ReadonlyArray<KeySchemaElement> | undefined,
  attributes: ReadonlyArray<AttributeDefinition>,
) => {
  const attribute = (keyType: "HASH" | "RANGE"): dynamodb.Attribute | undefined => {
    const name = schema?.find((k) => k.KeyType === keyType)?.AttributeName;
    if (name === undefined) return undefined;
    const definition = attributes.find((a) => a.AttributeName === name);
    if (!definition) throw new Error(`${table}: key ${name} has no attribute definition`);
    return { name, type: attributeType(definition.AttributeType) };
  };
  const partitionKey = attribute("HASH");
  if (!partitionKey) throw new Error(`${table}: no partition key`);
  const sortKey = attribute("RANGE");
  return { partitionKey, ...(sortKey ? { sortKey } : {}) };
};

const projection = (p: Projection | undefined) => {
  switch (p?.ProjectionType ?? "ALL") {
    case "ALL":
      return { projectionType: dynamodb.ProjectionType.ALL };
    case "KEYS_ONLY":
      return { projectionType: dynamodb.ProjectionType.KEYS_ONLY };
    case "INCLUDE":
      return {
        projectionType: dynamodb.ProjectionType.INCLUDE,
        nonKeyAttributes: [...(p?.NonKeyAttributes ?? [])],
      };
    default:
      throw new Error(`unknown projection ${p?.ProjectionType}`);
  }
};

/**
 * The CDK shape of one of the adapters' table definitions (`CreateTable`
 * inputs): keys, indexes and stream come from there, so the local stack, the
 * tests and AWS cannot disagree about them.
 */
export const cdkTableShape = (definition: TableDefinition) => {
  const table = definition.TableName ?? "(unnamed)";
  const attributes = definition.AttributeDefinitions ?? [];
  if (definition.BillingMode !== "PAY_PER_REQUEST")
    throw new Error(`${table}: only on-demand tables are supported`);
  if ((definition.LocalSecondaryIndexes ?? []).length > 0)
    throw new Error(`${table}: local secondary indexes are not supported`);
  const stream = definition.StreamSpecification?.StreamEnabled
    ? dynamodb.StreamViewType[definition.StreamSpecification.StreamViewType ?? "NEW_IMAGE"]
    : undefined;
  return {
    tableName: table,
    ...keys(table, definition.KeySchema, attributes),
    ...(stream ? { stream } : {}),
    globalSecondaryIndexes: (definition.GlobalSecondaryIndexes ?? []).map((gsi) => ({
      indexName: gsi.IndexName ?? "(unnamed)",
      ...keys(`${table}/${gsi.IndexName}`, gsi.KeySchema, attributes),
      ...projection(gsi.Projection),
    })),
  };
};

export type MedusaTableSet = Readonly<Record<TableRole, dynamodb.Table>>;

/** The alias of the tables' customer-managed key. */
export const tableKeyAlias = (stage: InfraSettings["stage"]): string =>
  `alias/medusa-${stage}-tables`;

/**
 * The tables: on-demand with a throughput cap (tables and indexes),
 * point-in-time recovery, TTL where the adapters say so; encrypted with the
 * stack's own rotating KMS key when `customerManagedKey` is on; in production
 * deletion-protected and retained when the stack goes.
 */
export class MedusaTables extends Construct {
  readonly names: TableNames;
  readonly tables: MedusaTableSet;
  /** The customer-managed key of every table; absent: DynamoDB's AWS-owned key. */
  readonly key?: kms.Key;

  constructor(scope: Construct, id: string, settings: InfraSettings) {
    super(scope, id);
    const production = settings.stage === "prod";
    // A dev stack's tables go with it; production data never goes with a stack.
    const removalPolicy = production ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    this.names = tableNames({ prefix: settings.tablePrefix });
    const definitions = tableDefinitions(this.names);
    const key = settings.customerManagedKey
      ? new kms.Key(this, "TableKey", {
          alias: tableKeyAlias(settings.stage),
          description: `MeDUSA Link (${settings.stage}): encrypts the DynamoDB tables, their streams and backups`,
          enableKeyRotation: true,
          // Without the key every table and backup is unreadable: it outlives a production stack.
          removalPolicy,
        })
      : undefined;
    if (key) this.key = key;
    const cap = {
      maxReadRequestUnits: settings.tableMaxReadUnits,
      maxWriteRequestUnits: settings.tableMaxWriteUnits,
    };
    const make = (role: TableRole, constructId: string): dynamodb.Table => {
      const { globalSecondaryIndexes, ...shape } = cdkTableShape(definitions[role]);
      const ttl = timeToLive[role];
      const table = new dynamodb.Table(this, constructId, {
        ...shape,
        billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
        ...cap,
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        ...(ttl ? { timeToLiveAttribute: ttl } : {}),
        ...(key
          ? { encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED, encryptionKey: key }
          : {}),
        deletionProtection: production,
        removalPolicy,
      });
      // An index has its own cap: a table's does not bound the writes it fans out to its indexes.
      for (const gsi of globalSecondaryIndexes) table.addGlobalSecondaryIndex({ ...gsi, ...cap });
      return table;
    };
    this.tables = {
      events: make("events", "AssignmentEvents"),
      mapping: make("mapping", "DevicePatientMapping"),
      sensor: make("sensor", "SensorData"),
      deadLetters: make("deadLetters", "DeadLetters"),
      idempotency: make("idempotency", "IdempotencyKeys"),
      allowList: make("allowList", "DeviceAllowList"),
      deviceStatuses: make("deviceStatuses", "DeviceStatuses"),
      alerts: make("alerts", "Alerts"),
      activity: make("activity", "Activity"),
    };
  }
}
