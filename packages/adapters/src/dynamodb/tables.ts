import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceInUseException,
  ResourceNotFoundException,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
} from "@aws-sdk/client-dynamodb";
import { TIMELINE_PROJECTION } from "./sensor-item.js";

/** The tables, by role. */
export interface TableNames {
  readonly events: string;
  readonly mapping: string;
  readonly sensor: string;
  readonly deadLetters: string;
  readonly idempotency: string;
  /** The serial numbers that may provision themselves by claim (the pre-provisioning hook's list). */
  readonly allowList: string;
  readonly deviceStatuses: string;
  readonly alerts: string;
  readonly activity: string;
}

export const DEFAULT_TABLE_NAMES: TableNames = {
  events: "medusa-assignment-events",
  mapping: "medusa-device-patient-mapping",
  sensor: "medusa-sensor-data",
  deadLetters: "medusa-dead-letters",
  idempotency: "medusa-idempotency-keys",
  allowList: "medusa-device-allow-list",
  deviceStatuses: "medusa-device-statuses",
  alerts: "medusa-alerts",
  activity: "medusa-activity",
};

export const PATIENT_DEVICE_INDEX = "patient-device-index";
export const PATIENT_TIMELINE_INDEX = "patient-timeline-index";
export const PATIENT_ACTIVITY_INDEX = "patient-activity-index";
/** DynamoDB TTL attribute of the sensor table: epoch SECONDS, as DynamoDB requires. */
export const SENSOR_TTL_ATTRIBUTE = "ttl";
/** The alerts that are open (sparse: a closed alert leaves it), newest raised first. */
export const OPEN_ALERTS_INDEX = "open-alerts-index";
/** A device's alerts, newest raised first. */
export const DEVICE_ALERTS_INDEX = "device-alerts-index";

/** Default names, a prefix (`dev-` gives `dev-medusa-…`), or explicit names (which win). */
export const tableNames = (
  config: { readonly prefix?: string } & Partial<TableNames> = {},
): TableNames => {
  const prefix = config.prefix ?? "";
  return {
    events: config.events ?? `${prefix}${DEFAULT_TABLE_NAMES.events}`,
    mapping: config.mapping ?? `${prefix}${DEFAULT_TABLE_NAMES.mapping}`,
    sensor: config.sensor ?? `${prefix}${DEFAULT_TABLE_NAMES.sensor}`,
    deadLetters: config.deadLetters ?? `${prefix}${DEFAULT_TABLE_NAMES.deadLetters}`,
    idempotency: config.idempotency ?? `${prefix}${DEFAULT_TABLE_NAMES.idempotency}`,
    allowList: config.allowList ?? `${prefix}${DEFAULT_TABLE_NAMES.allowList}`,
    deviceStatuses: config.deviceStatuses ?? `${prefix}${DEFAULT_TABLE_NAMES.deviceStatuses}`,
    alerts: config.alerts ?? `${prefix}${DEFAULT_TABLE_NAMES.alerts}`,
    activity: config.activity ?? `${prefix}${DEFAULT_TABLE_NAMES.activity}`,
  };
};

export type TableRole = keyof TableNames;

/**
 * The tables as data: the single source of truth for tests, the local stack
 * and the CDK app. All on-demand.
 */
export const tableDefinitions = (
  names: TableNames,
): Record<TableRole, CreateTableCommandInput> => ({
  events: {
    TableName: names.events,
    BillingMode: "PAY_PER_REQUEST",
    AttributeDefinitions: [
      { AttributeName: "device_id", AttributeType: "S" },
      { AttributeName: "version", AttributeType: "N" },
    ],
    KeySchema: [
      { AttributeName: "device_id", KeyType: "HASH" },
      { AttributeName: "version", KeyType: "RANGE" },
    ],
    // Re-attribution in AWS is fed by this stream.
    StreamSpecification: { StreamEnabled: true, StreamViewType: "NEW_IMAGE" },
  },
  mapping: {
    TableName: names.mapping,
    BillingMode: "PAY_PER_REQUEST",
    AttributeDefinitions: [
      { AttributeName: "device_id", AttributeType: "S" },
      { AttributeName: "assignment_timestamp", AttributeType: "N" },
      { AttributeName: "patient_id", AttributeType: "S" },
    ],
    KeySchema: [
      { AttributeName: "device_id", KeyType: "HASH" },
      { AttributeName: "assignment_timestamp", KeyType: "RANGE" },
    ],
    GlobalSecondaryIndexes: [
      {
        IndexName: PATIENT_DEVICE_INDEX,
        KeySchema: [
          { AttributeName: "patient_id", KeyType: "HASH" },
          { AttributeName: "assignment_timestamp", KeyType: "RANGE" },
        ],
        Projection: { ProjectionType: "ALL" },
      },
    ],
  },
  sensor: {
    TableName: names.sensor,
    BillingMode: "PAY_PER_REQUEST",
    AttributeDefinitions: [
      { AttributeName: "device_id", AttributeType: "S" },
      { AttributeName: "timestamp", AttributeType: "N" },
      { AttributeName: "patient_id", AttributeType: "S" },
    ],
    KeySchema: [
      { AttributeName: "device_id", KeyType: "HASH" },
      { AttributeName: "timestamp", KeyType: "RANGE" },
    ],
    GlobalSecondaryIndexes: [
      {
        IndexName: PATIENT_TIMELINE_INDEX,
        KeySchema: [
          { AttributeName: "patient_id", KeyType: "HASH" },
          { AttributeName: "timestamp", KeyType: "RANGE" },
        ],
        // The samples and nothing else a timeline does not read: a timeline is one
        // Query of the index, charged by the bytes read (a Query of keys only,
        // then a GetItem per item, would cost half a read unit an item).
        Projection: { ProjectionType: "INCLUDE", NonKeyAttributes: [...TIMELINE_PROJECTION] },
      },
    ],
    // Activity in AWS is computed from this stream. Both images: a removed item's
    // samples (re-attribution deletes the items it replaced) are only in its old image.
    StreamSpecification: { StreamEnabled: true, StreamViewType: "NEW_AND_OLD_IMAGES" },
  },
  // Keyed by UTC day and a time-ordered id: an operator lists a day's dead
  // letters newest first with one Query, and two letters never share a key.
  deadLetters: {
    TableName: names.deadLetters,
    BillingMode: "PAY_PER_REQUEST",
    AttributeDefinitions: [
      { AttributeName: "day", AttributeType: "S" },
      { AttributeName: "id", AttributeType: "S" },
    ],
    KeySchema: [
      { AttributeName: "day", KeyType: "HASH" },
      { AttributeName: "id", KeyType: "RANGE" },
    ],
  },
  // An API request's idempotency key (hashed with its caller and route) and the
  // hash of the request first sent with it; DynamoDB's TTL forgets it after a day.
  idempotency: {
    TableName: names.idempotency,
    BillingMode: "PAY_PER_REQUEST",
    AttributeDefinitions: [{ AttributeName: "key", AttributeType: "S" }],
    KeySchema: [{ AttributeName: "key", KeyType: "HASH" }],
  },
  // One item per serial number: the pre-provisioning hook's one GetItem per RegisterThing.
  allowList: {
    TableName: names.allowList,
    BillingMode: "PAY_PER_REQUEST",
    AttributeDefinitions: [{ AttributeName: "serial_number", AttributeType: "S" }],
    KeySchema: [{ AttributeName: "serial_number", KeyType: "HASH" }],
  },
  // The fleet's read model: one row per device (presence, who wears it), saved
  // with a revision condition; listed by Scan (the fleet view pages through it).
  deviceStatuses: {
    TableName: names.deviceStatuses,
    BillingMode: "PAY_PER_REQUEST",
    AttributeDefinitions: [{ AttributeName: "device_id", AttributeType: "S" }],
    KeySchema: [{ AttributeName: "device_id", KeyType: "HASH" }],
  },
  // Data-gap alerts by id (the gap: device, assignment, since). An open alert
  // carries `open` and so is in the sparse open index, which the detector and
  // the API read whole; closing one removes the attribute and the index entry.
  alerts: {
    TableName: names.alerts,
    BillingMode: "PAY_PER_REQUEST",
    AttributeDefinitions: [
      { AttributeName: "alert_id", AttributeType: "S" },
      { AttributeName: "open", AttributeType: "S" },
      { AttributeName: "device_id", AttributeType: "S" },
      { AttributeName: "raised_at", AttributeType: "N" },
    ],
    KeySchema: [{ AttributeName: "alert_id", KeyType: "HASH" }],
    GlobalSecondaryIndexes: [
      {
        IndexName: OPEN_ALERTS_INDEX,
        KeySchema: [
          { AttributeName: "open", KeyType: "HASH" },
          { AttributeName: "raised_at", KeyType: "RANGE" },
        ],
        Projection: { ProjectionType: "ALL" },
      },
      {
        IndexName: DEVICE_ALERTS_INDEX,
        KeySchema: [
          { AttributeName: "device_id", KeyType: "HASH" },
          { AttributeName: "raised_at", KeyType: "RANGE" },
        ],
        Projection: { ProjectionType: "ALL" },
      },
    ],
  },
  // Activity blocks: one item per device, block and patient (`block` is the
  // block's start and the patient); a patient's blocks of every device by start
  // through the index (`patient_block`: start and device).
  activity: {
    TableName: names.activity,
    BillingMode: "PAY_PER_REQUEST",
    AttributeDefinitions: [
      { AttributeName: "device_id", AttributeType: "S" },
      { AttributeName: "block", AttributeType: "S" },
      { AttributeName: "patient_id", AttributeType: "S" },
      { AttributeName: "patient_block", AttributeType: "S" },
    ],
    KeySchema: [
      { AttributeName: "device_id", KeyType: "HASH" },
      { AttributeName: "block", KeyType: "RANGE" },
    ],
    GlobalSecondaryIndexes: [
      {
        IndexName: PATIENT_ACTIVITY_INDEX,
        KeySchema: [
          { AttributeName: "patient_id", KeyType: "HASH" },
          { AttributeName: "patient_block", KeyType: "RANGE" },
        ],
        Projection: { ProjectionType: "ALL" },
      },
    ],
  },
});

/** Which tables have a TTL attribute (epoch seconds). */
export const timeToLive: Partial<Record<TableRole, string>> = {
  sensor: SENSOR_TTL_ATTRIBUTE,
  idempotency: "ttl",
  activity: "ttl",
};

/** Creates the tables that are missing, waits until they are active, enables TTL. Idempotent. */
export const ensureTables = async (client: DynamoDBClient, names: TableNames): Promise<void> => {
  const definitions = tableDefinitions(names);
  await Promise.all(
    (Object.keys(definitions) as Array<TableRole>).map(async (role) => {
      const input = definitions[role];
      const exists = await client
        .send(new DescribeTableCommand({ TableName: input.TableName }))
        .then(() => true)
        .catch((e: unknown) => {
          if (e instanceof ResourceNotFoundException) return false;
          throw e;
        });
      if (!exists) {
        await client.send(new CreateTableCommand(input)).catch((e: unknown) => {
          if (!(e instanceof ResourceInUseException)) throw e;
        });
      }
      await waitUntilTableExists(
        { client, maxWaitTime: 60, minDelay: 1 },
        { TableName: input.TableName },
      );
      const ttl = timeToLive[role];
      if (ttl && !exists) {
        await client.send(
          new UpdateTimeToLiveCommand({
            TableName: input.TableName,
            TimeToLiveSpecification: { AttributeName: ttl, Enabled: true },
          }),
        );
      }
    }),
  );
};
