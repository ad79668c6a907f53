import {
  DEVICE_ALERTS_INDEX,
  OPEN_ALERTS_INDEX,
  PATIENT_ACTIVITY_INDEX,
  PATIENT_DEVICE_INDEX,
  PATIENT_TIMELINE_INDEX,
  type TableRole,
} from "@medusa/adapters";

export type HandlerName =
  | "ingest"
  | "reattribute"
  | "api"
  | "presence"
  | "gap-detector"
  | "activity"
  | "certificate-retirement";
export const HANDLERS: ReadonlyArray<HandlerName> = [
  "ingest",
  "reattribute",
  "api",
  "presence",
  "gap-detector",
  "activity",
  "certificate-retirement",
];

/** What one function may do to one table (or one of its indexes). */
export interface TableGrant {
  readonly table: TableRole;
  /** A global secondary index of the table; absent: the table itself. */
  readonly index?: string;
  readonly actions: ReadonlyArray<`dynamodb:${string}`>;
}

/**
 * Least privilege, read off the stores each handler uses
 * (`packages/adapters/src/dynamodb/*.ts`). IAM authorizes a
 * TransactWriteItems by the actions of its parts (Put → PutItem, Update →
 * UpdateItem, ConditionCheck → ConditionCheckItem); a BatchWriteItem, puts
 * and deletes alike, by `dynamodb:BatchWriteItem`. An index is its own
 * resource: a Query on it needs a grant on `table/…/index/<name>`.
 * `access.int.test.ts` runs every handler's flows against DynamoDB Local and
 * checks that this table lists exactly the calls they make.
 */
export const TABLE_ACCESS: Readonly<Record<HandlerName, ReadonlyArray<TableGrant>>> = {
  ingest: [
    // The interval cache loads the device's stream (EventStore.load).
    { table: "events", actions: ["dynamodb:Query"] },
    // Packed samples, each put only where its key is free (a conflict answers
    // with the stored item, so no GetItem in AWS).
    { table: "sensor", actions: ["dynamodb:PutItem"] },
    // What could not be ingested.
    { table: "deadLetters", actions: ["dynamodb:PutItem"] },
    // The device's newest sample time, into its status row when it moved on a
    // minute or more (recordSampleTimes: read, then put with the revision read).
    { table: "deviceStatuses", actions: ["dynamodb:GetItem", "dynamodb:PutItem"] },
  ],
  reattribute: [
    { table: "events", actions: ["dynamodb:Query"] },
    // deviceSegments reads the device's items; replace puts and deletes them in batches.
    { table: "sensor", actions: ["dynamodb:Query", "dynamodb:BatchWriteItem"] },
    // Who wears the device, into its status row (read, then put with the revision read).
    { table: "deviceStatuses", actions: ["dynamodb:GetItem", "dynamodb:PutItem"] },
  ],
  api: [
    // Commands: load the stream, append one commit (Put + ConditionCheck on the
    // previous version) with its mapping rows (Put, Update; Delete where a
    // correction amends an assignment's start, moving its row's key) in one
    // transaction. The record as of a time reads the stream (Query).
    {
      table: "events",
      actions: ["dynamodb:Query", "dynamodb:PutItem", "dynamodb:ConditionCheckItem"],
    },
    {
      table: "mapping",
      actions: ["dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
    },
    { table: "mapping", index: PATIENT_DEVICE_INDEX, actions: ["dynamodb:Query"] },
    { table: "sensor", index: PATIENT_TIMELINE_INDEX, actions: ["dynamodb:Query"] },
    // A patient's activity: one Query of the activity index.
    { table: "activity", index: PATIENT_ACTIVITY_INDEX, actions: ["dynamodb:Query"] },
    // Claiming an Idempotency-Key is one conditional put (new, same request, or expired).
    { table: "idempotency", actions: ["dynamodb:PutItem"] },
    // The fleet view: the status rows (one, or a page of the scan), each device's newest
    // sample (one Query of the sensor table), open alerts and a device's alerts (their
    // indexes), acknowledging one (a conditional update).
    { table: "deviceStatuses", actions: ["dynamodb:GetItem", "dynamodb:Scan"] },
    { table: "sensor", actions: ["dynamodb:Query"] },
    { table: "alerts", actions: ["dynamodb:UpdateItem"] },
    { table: "alerts", index: OPEN_ALERTS_INDEX, actions: ["dynamodb:Query"] },
    { table: "alerts", index: DEVICE_ALERTS_INDEX, actions: ["dynamodb:Query"] },
  ],
  presence: [
    // A lifecycle event into the device's row: read, then put with the revision read.
    { table: "deviceStatuses", actions: ["dynamodb:GetItem", "dynamodb:PutItem"] },
    // An event that is not a device's is kept.
    { table: "deadLetters", actions: ["dynamodb:PutItem"] },
  ],
  "gap-detector": [
    // Every status row (a scan), each assigned device's newest sample, the open alerts
    // (their index); a gap opens as a conditional put and closes as a conditional update.
    { table: "deviceStatuses", actions: ["dynamodb:Scan"] },
    { table: "sensor", actions: ["dynamodb:Query"] },
    { table: "alerts", actions: ["dynamodb:PutItem", "dynamodb:UpdateItem"] },
    { table: "alerts", index: OPEN_ALERTS_INDEX, actions: ["dynamodb:Query"] },
  ],
  activity: [
    // The sensor table's stream (its own grant, with the event source mapping); the
    // device's samples around what changed (deviceSegments).
    { table: "sensor", actions: ["dynamodb:Query"] },
    // The device's blocks (read), each written by an update; a block whose samples all
    // moved away is removed, and an item left empty deleted.
    {
      table: "activity",
      actions: ["dynamodb:Query", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
    },
    // A stream record that cannot be read is kept.
    { table: "deadLetters", actions: ["dynamodb:PutItem"] },
  ],
  "certificate-retirement": [
    // A Jobs event that cannot be read is kept.
    { table: "deadLetters", actions: ["dynamodb:PutItem"] },
  ],
};

/**
 * What the certificate retirement function asks AWS IoT's registry
 * (`makeIotThingCertificates`): the thing's principals, each certificate's
 * status, and setting one INACTIVE. `access.int.test.ts` checks this against
 * the calls it makes; the stack grants them on the account's things and
 * certificates only.
 */
export const RETIREMENT_IOT_ACCESS = {
  things: ["iot:ListThingPrincipals"],
  certificates: ["iot:DescribeCertificate", "iot:UpdateCertificate"],
} as const;

/** The tables a handler touches at all: only these names go into its environment. */
export const tablesOf = (handler: HandlerName): ReadonlyArray<TableRole> => [
  ...new Set(TABLE_ACCESS[handler].map((g) => g.table)),
];

/**
 * What a function may do with the tables' customer-managed key, when the
 * stack has one: DynamoDB decrypts the table's key with it on behalf of
 * whoever reads or writes the table (or its stream), so every function that
 * touches a table needs `kms:Decrypt` on that key and nothing else.
 * `GenerateDataKey` is DynamoDB's own, through the grant it creates with the
 * table ("How Amazon DynamoDB uses AWS KMS", AWS KMS Developer Guide).
 */
export const tableKeyAccess = (handler: HandlerName): ReadonlyArray<`kms:${string}`> =>
  tablesOf(handler).length > 0 ? ["kms:Decrypt"] : [];

/** What a function may do with the API's secrets (the HS256 secret, when tokens are verified with one; the cursor key). */
export const SECRET_ACCESS: Readonly<
  Record<HandlerName, ReadonlyArray<`secretsmanager:${string}`>>
> = {
  ingest: [],
  reattribute: [],
  // Read at start-up (`loadSecrets` of @medusa/api); no Describe, no List.
  api: ["secretsmanager:GetSecretValue"],
  presence: [],
  "gap-detector": [],
  activity: [],
  "certificate-retirement": [],
};
