import {
  type DynamoDBClient,
  TransactionCanceledException,
  TransactWriteItemsCommand,
} from "@aws-sdk/client-dynamodb";
import { actor, type Commit, commandId, deviceId, epochMillis, patientId } from "@medusa/domain";
import { T0 } from "@medusa/domain/testing";
import { Effect, Either } from "effect";
import { expect, it } from "vitest";
import { makeDynamoEventStore } from "./event-store.js";
import { tableNames } from "./tables.js";

const commit: Commit = {
  deviceId: deviceId("pi-1"),
  version: 2,
  commandId: commandId("c-2"),
  committedAt: epochMillis(T0),
  events: [
    {
      _tag: "DeviceAssigned",
      deviceId: deviceId("pi-1"),
      patientId: patientId("P-1"),
      assignedBy: actor("nurse@clinic.example"),
      at: epochMillis(T0),
    },
  ],
};

const cancelled = (...codes: Array<string>) =>
  new TransactionCanceledException({
    message: "Transaction cancelled",
    $metadata: {},
    CancellationReasons: codes.map((Code) => ({ Code })),
  });

/** A client whose TransactWriteItems answers with `answers` in turn (an error is thrown). */
const scripted = (answers: Array<Error | "ok">) => {
  const sent: Array<unknown> = [];
  const client = {
    send: async (command: unknown) => {
      if (!(command instanceof TransactWriteItemsCommand)) throw new Error("unexpected command");
      sent.push(command);
      const next = answers.shift() ?? "ok";
      if (next !== "ok") throw next;
      return {};
    },
  } as unknown as DynamoDBClient;
  const sleeps: Array<number> = [];
  const store = makeDynamoEventStore({
    client,
    tables: tableNames(),
    sleep: async (ms) => void sleeps.push(ms),
    random: () => 1,
  });
  return { sent, sleeps, append: () => Effect.runPromise(Effect.either(store.append(commit))) };
};

it("an append that collides with a transaction in progress is tried again, and lands", async () => {
  const s = scripted([
    cancelled("None", "None", "TransactionConflict"),
    cancelled("TransactionConflict"),
    "ok",
  ]);
  expect(Either.isRight(await s.append())).toBe(true);
  expect(s.sent).toHaveLength(3);
  expect(s.sleeps).toEqual([50, 100]);
});

it("an append that keeps colliding ends as a typed VersionConflict, not as unavailable storage", async () => {
  const s = scripted(Array.from({ length: 10 }, () => cancelled("TransactionConflict")));
  const r = await s.append();
  expect(Either.isLeft(r) && r.left._tag).toBe("VersionConflict");
  expect(s.sent).toHaveLength(4);
});

it("a lost race for the version is a VersionConflict at once; anything else is unavailable storage", async () => {
  const lost = scripted([cancelled("ConditionalCheckFailed", "None")]);
  const r = await lost.append();
  expect(Either.isLeft(r) && r.left._tag).toBe("VersionConflict");
  expect(lost.sent).toHaveLength(1);
  const down = scripted([new Error("connect ECONNREFUSED 127.0.0.1:9")]);
  const d = await down.append();
  expect(Either.isLeft(d) && d.left._tag).toBe("EventStoreUnavailable");
  expect(down.sent).toHaveLength(1);
});
