import { expect, it } from "vitest";
import { HANDLERS, SECRET_ACCESS, TABLE_ACCESS, tableKeyAccess, tablesOf } from "./access.js";

// Spelled out: a change here is a change of what a function may do in production.
// (`access.int.test.ts` checks the list against the calls the handlers really make.)
it("grants each function only these DynamoDB actions, on these tables and indexes", () => {
  const listed = Object.fromEntries(
    HANDLERS.map((h) => [
      h,
      TABLE_ACCESS[h].flatMap((g) =>
        g.actions.map((a) => `${a} ${g.table}${g.index ? `/${g.index}` : ""}`),
      ),
    ]),
  );
  expect(listed).toEqual({
    ingest: [
      "dynamodb:Query events",
      "dynamodb:PutItem sensor",
      "dynamodb:PutItem deadLetters",
      // The newest sample time into the status row, a minute at a time (the fleet list reads it).
      "dynamodb:GetItem deviceStatuses",
      "dynamodb:PutItem deviceStatuses",
    ],
    reattribute: [
      "dynamodb:Query events",
      "dynamodb:Query sensor",
      "dynamodb:BatchWriteItem sensor",
      // Who wears the device, into its status row (the gap detector watches assigned devices).
      "dynamodb:GetItem deviceStatuses",
      "dynamodb:PutItem deviceStatuses",
    ],
    api: [
      "dynamodb:Query events",
      "dynamodb:PutItem events",
      "dynamodb:ConditionCheckItem events",
      "dynamodb:Query mapping",
      "dynamodb:PutItem mapping",
      "dynamodb:UpdateItem mapping",
      "dynamodb:DeleteItem mapping",
      "dynamodb:Query mapping/patient-device-index",
      "dynamodb:Query sensor/patient-timeline-index",
      "dynamodb:Query activity/patient-activity-index",
      "dynamodb:PutItem idempotency",
      // The fleet: status rows, each device's newest sample, alerts (open, per device; acknowledge).
      "dynamodb:GetItem deviceStatuses",
      "dynamodb:Scan deviceStatuses",
      "dynamodb:Query sensor",
      "dynamodb:UpdateItem alerts",
      "dynamodb:Query alerts/open-alerts-index",
      "dynamodb:Query alerts/device-alerts-index",
    ],
    presence: [
      "dynamodb:GetItem deviceStatuses",
      "dynamodb:PutItem deviceStatuses",
      "dynamodb:PutItem deadLetters",
    ],
    "gap-detector": [
      "dynamodb:Scan deviceStatuses",
      "dynamodb:Query sensor",
      "dynamodb:PutItem alerts",
      "dynamodb:UpdateItem alerts",
      "dynamodb:Query alerts/open-alerts-index",
    ],
    activity: [
      "dynamodb:Query sensor",
      "dynamodb:Query activity",
      "dynamodb:UpdateItem activity",
      "dynamodb:DeleteItem activity",
      "dynamodb:PutItem deadLetters",
    ],
    // A Jobs event it cannot read; its IoT rights: RETIREMENT_IOT_ACCESS.
    "certificate-retirement": ["dynamodb:PutItem deadLetters"],
  });
  for (const grants of Object.values(TABLE_ACCESS))
    for (const g of grants)
      for (const a of g.actions) expect(a).toMatch(/^dynamodb:[A-Z][A-Za-z]+$/);
});

it("no function but the API touches the mapping table; none but ingest, presence, activity and certificate retirement the dead letters", () => {
  expect(HANDLERS.filter((h) => tablesOf(h).includes("mapping"))).toEqual(["api"]);
  expect(HANDLERS.filter((h) => tablesOf(h).includes("deadLetters"))).toEqual([
    "ingest",
    "presence",
    "activity",
    "certificate-retirement",
  ]);
  // Only the API and the activity function touch the activity table; only activity writes it.
  expect(HANDLERS.filter((h) => tablesOf(h).includes("activity"))).toEqual(["api", "activity"]);
});

it("lets every function that touches a table decrypt with the tables' key, and do nothing else with it", () => {
  expect(Object.fromEntries(HANDLERS.map((h) => [h, tableKeyAccess(h)]))).toEqual({
    ingest: ["kms:Decrypt"],
    reattribute: ["kms:Decrypt"],
    api: ["kms:Decrypt"],
    presence: ["kms:Decrypt"],
    "gap-detector": ["kms:Decrypt"],
    activity: ["kms:Decrypt"],
    "certificate-retirement": ["kms:Decrypt"],
  });
});

it("lets only the API read the JWT secret's value", () => {
  expect(SECRET_ACCESS).toEqual({
    ingest: [],
    reattribute: [],
    api: ["secretsmanager:GetSecretValue"],
    presence: [],
    "gap-detector": [],
    activity: [],
    "certificate-retirement": [],
  });
});
