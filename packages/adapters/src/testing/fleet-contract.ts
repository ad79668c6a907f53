import {
  type AlertId,
  type AlertPage,
  type AlertsService,
  actor,
  alertIdOf,
  type DataGapClosed,
  type DataGapOpened,
  type DeviceId,
  type DeviceStatusesService,
  type DeviceStatusPage,
  deviceId,
  epochMillis,
  type FleetDeviceStatus,
  initialDeviceStatus,
  patientId,
  type StoredDeviceStatusPage,
} from "@medusa/domain";
import { Effect, Either } from "effect";
import { describe, expect, it } from "vitest";

let runs = 0;
const fresh = (label: string): DeviceId =>
  deviceId(`${label}-${process.pid}-${Date.now().toString(36)}-${(runs++).toString(36)}`);
const run = <A, E>(e: Effect.Effect<A, E>) => Effect.runPromise(e);

const connectedAt = (status: FleetDeviceStatus, t: number, version: number): FleetDeviceStatus => ({
  ...status,
  lastConnect: {
    clientId: status.deviceId,
    eventType: "connected",
    timestamp: epochMillis(t),
    sessionIdentifier: `s-${version}`,
    principalIdentifier: "cert",
    versionNumber: version,
    ipAddress: "127.0.0.1",
  },
});

/** The behaviour every device-status store has (the in-memory twin and DynamoDB run the same suite). */
export const deviceStatusesContract = (name: string, store: () => DeviceStatusesService) => {
  describe(`device statuses contract: ${name}`, () => {
    it("keeps a row as saved, with its revision; a device without one has none", async () => {
      const device = fresh("row");
      expect(await run(store().get(device))).toBeNull();
      const status = connectedAt(initialDeviceStatus(device), 1_700_000_000_000, 0);
      expect(await run(store().save(status, 0))).toBe("saved");
      expect(await run(store().get(device))).toEqual({ status, revision: 1 });
    });

    it("keeps the newest sample time with the row (none: null)", async () => {
      const device = fresh("sample-time");
      const status = {
        ...initialDeviceStatus(device),
        lastSampleAt: epochMillis(1_700_000_000_123),
      };
      expect(await run(store().save(status, 0))).toBe("saved");
      expect((await run(store().get(device)))?.status.lastSampleAt).toBe(1_700_000_000_123);
      const none = fresh("no-sample");
      await run(store().save(initialDeviceStatus(none), 0));
      expect((await run(store().get(none)))?.status.lastSampleAt).toBeNull();
    });

    it("a save names the revision it read: of two saves from one read, one wins, the other is told it changed", async () => {
      const device = fresh("race");
      const first = connectedAt(initialDeviceStatus(device), 1_700_000_000_000, 0);
      const second = connectedAt(initialDeviceStatus(device), 1_700_000_000_001, 1);
      const outcomes = await Promise.all([
        run(store().save(first, 0)),
        run(store().save(second, 0)),
      ]);
      expect(outcomes.sort()).toEqual(["changed", "saved"]);
      const row = await run(store().get(device));
      expect(row?.revision).toBe(1);
      const third = connectedAt(initialDeviceStatus(device), 1_700_000_000_002, 2);
      expect(await run(store().save(third, 0))).toBe("changed");
      expect(await run(store().save(third, 2))).toBe("changed");
      expect(await run(store().save(third, 1))).toBe("saved");
      expect(await run(store().get(device))).toEqual({ status: third, revision: 2 });
    });

    it("saves several devices' rows at once: each at its revision saved, one behind told it changed and left as it was", async () => {
      const [a, b, c] = [fresh("all-a"), fresh("all-b"), fresh("all-c")];
      await run(store().save(initialDeviceStatus(a), 0));
      await run(store().save(initialDeviceStatus(c), 0));
      await run(store().save(connectedAt(initialDeviceStatus(c), 1_700_000_000_000, 1), 1));
      const rows = [
        { status: connectedAt(initialDeviceStatus(a), 1_700_000_000_005, 5), expectedRevision: 1 },
        { status: connectedAt(initialDeviceStatus(b), 1_700_000_000_006, 6), expectedRevision: 0 },
        // c is at revision 2: this save is behind.
        { status: connectedAt(initialDeviceStatus(c), 1_700_000_000_007, 7), expectedRevision: 1 },
      ];
      expect(await run(store().saveAll(rows))).toEqual(["saved", "saved", "changed"]);
      expect(await run(store().get(a))).toEqual({ status: rows[0]?.status, revision: 2 });
      expect(await run(store().get(b))).toEqual({ status: rows[1]?.status, revision: 1 });
      expect(await run(store().get(c))).toEqual({
        status: connectedAt(initialDeviceStatus(c), 1_700_000_000_000, 1),
        revision: 2,
      });
      expect(await run(store().saveAll([]))).toEqual([]);
      expect(await run(store().saveAll(rows.slice(2)))).toEqual(["changed"]);
    });

    it("saves more rows at once than one request takes (120), each readable after", async () => {
      const devices = Array.from({ length: 120 }, () => fresh("many"));
      const rows = devices.map((d, i) => ({
        status: connectedAt(initialDeviceStatus(d), 1_700_000_000_000 + i, i),
        expectedRevision: 0,
      }));
      const outcomes = await run(store().saveAll(rows));
      expect(outcomes).toEqual(devices.map(() => "saved"));
      for (const [i, d] of devices.entries())
        expect(await run(store().get(d))).toEqual({ status: rows[i]?.status, revision: 1 });
    });

    it("lists every row exactly once across pages", async () => {
      const devices = Array.from({ length: 7 }, () => fresh("list"));
      for (const d of devices) await run(store().save(initialDeviceStatus(d), 0));
      const seen: Array<DeviceId> = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page: DeviceStatusPage = await run(
          store().list({ limit: 3, ...(cursor !== null ? { cursor } : {}) }),
        );
        expect(page.statuses.length).toBeLessThanOrEqual(3);
        seen.push(...page.statuses.map((s) => s.deviceId));
        cursor = page.nextCursor;
        pages++;
      } while (cursor !== null && pages < 1000);
      const mine = seen.filter((d) => devices.includes(d));
      expect(mine.sort()).toEqual([...devices].sort());
      expect(new Set(seen).size).toBe(seen.length);
    });

    it("lists the rows as stored too, each with the revision a get gives, across the same pages", async () => {
      const devices = Array.from({ length: 5 }, () => fresh("stored"));
      for (const [i, d] of devices.entries()) {
        await run(store().save(initialDeviceStatus(d), 0));
        if (i % 2 === 0)
          await run(store().save(connectedAt(initialDeviceStatus(d), 1_700_000_000_000, i), 1));
      }
      const seen = new Map<DeviceId, number>();
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page: StoredDeviceStatusPage = await run(
          store().listStored({ limit: 2, ...(cursor !== null ? { cursor } : {}) }),
        );
        expect(page.rows.length).toBeLessThanOrEqual(2);
        for (const row of page.rows) {
          expect(seen.has(row.status.deviceId)).toBe(false);
          seen.set(row.status.deviceId, row.revision);
          if (devices.includes(row.status.deviceId))
            expect(await run(store().get(row.status.deviceId))).toEqual(row);
        }
        cursor = page.nextCursor;
        pages++;
      } while (cursor !== null && pages < 1000);
      expect(devices.map((d) => seen.get(d))).toEqual([2, 1, 2, 1, 2]);
    });

    it("a cursor it did not give is an InvalidCursor", async () => {
      for (const cursor of ["nope", Buffer.from('{"d":"a/b"}').toString("base64url")]) {
        const out = await Effect.runPromise(Effect.either(store().list({ limit: 3, cursor })));
        expect(Either.isLeft(out) && out.left._tag).toBe("InvalidCursor");
        const stored = await Effect.runPromise(
          Effect.either(store().listStored({ limit: 3, cursor })),
        );
        expect(Either.isLeft(stored) && stored.left._tag).toBe("InvalidCursor");
      }
    });
  });
};

const opened = (device: DeviceId, since: number, raisedAt: number): DataGapOpened => ({
  _tag: "DataGapOpened",
  alertId: alertIdOf(device, epochMillis(1_700_000_000_000), epochMillis(since)),
  deviceId: device,
  patientId: patientId("P-1"),
  assignmentStart: epochMillis(1_700_000_000_000),
  since: epochMillis(since),
  raisedAt: epochMillis(raisedAt),
});
const closedOf = (o: DataGapOpened, at: number): DataGapClosed => ({
  ...o,
  _tag: "DataGapClosed",
  closedAt: epochMillis(at),
  reason: "data-resumed",
});

/** The behaviour every alert store has. */
export const alertsContract = (name: string, store: () => AlertsService) => {
  describe(`alerts contract: ${name}`, () => {
    const T = 1_700_000_600_000;
    it("a gap opens one alert however often it is found; it closes once, keeping its first close", async () => {
      const device = fresh("gap");
      const o = opened(device, T, T + 600_000);
      expect(await run(store().open(o))).toBe("opened");
      expect(await run(store().open({ ...o, raisedAt: epochMillis(T + 700_000) }))).toBe("exists");
      expect(await run(store().get(o.alertId))).toEqual({
        id: o.alertId,
        kind: "data-gap",
        deviceId: device,
        patientId: "P-1",
        assignmentStart: o.assignmentStart,
        since: o.since,
        raisedAt: o.raisedAt,
        closedAt: null,
        closeReason: null,
        acknowledgedAt: null,
        acknowledgedBy: null,
      });
      expect(await run(store().close(closedOf(o, T + 800_000)))).toBe("closed");
      expect(
        await run(store().close({ ...closedOf(o, T + 900_000), reason: "assignment-ended" })),
      ).toBe("not-open");
      expect(await run(store().get(o.alertId))).toMatchObject({
        closedAt: T + 800_000,
        closeReason: "data-resumed",
      });
      const unknown = opened(fresh("none"), T, T);
      expect(await run(store().close(closedOf(unknown, T)))).toBe("not-open");
      expect(await run(store().get(unknown.alertId))).toBeNull();
    });

    it("acknowledging keeps the first acknowledgement; an unknown alert is AlertNotFound", async () => {
      const o = opened(fresh("ack"), T, T + 1);
      await run(store().open(o));
      const first = await run(
        store().acknowledge(o.alertId, actor("a@c.example"), epochMillis(T + 5)),
      );
      expect(first).toMatchObject({
        acknowledgedBy: "a@c.example",
        acknowledgedAt: T + 5,
        closedAt: null,
      });
      const again = await run(
        store().acknowledge(o.alertId, actor("b@c.example"), epochMillis(T + 9)),
      );
      expect(again).toEqual(first);
      const missing = await Effect.runPromise(
        Effect.either(
          store().acknowledge(
            opened(fresh("x"), T, T).alertId,
            actor("a@c.example"),
            epochMillis(T),
          ),
        ),
      );
      expect(Either.isLeft(missing) && missing.left._tag).toBe("AlertNotFound");
    });

    it("lists the open alerts newest raised first, each once across pages; closed ones not; by device, open or closed", async () => {
      const device = fresh("list");
      const mine = Array.from({ length: 7 }, (_, i) => opened(device, T + i, T + 1_000 * (i % 4)));
      for (const o of mine) await run(store().open(o));
      await run(store().close(closedOf(mine[2]!, T + 9_999)));
      const seen: Array<{ id: AlertId; raisedAt: number }> = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page: AlertPage = await run(
          store().listOpen({ limit: 2, ...(cursor !== null ? { cursor } : {}) }),
        );
        expect(page.alerts.length).toBeLessThanOrEqual(2);
        seen.push(...page.alerts.map((a) => ({ id: a.id, raisedAt: a.raisedAt })));
        cursor = page.nextCursor;
        pages++;
      } while (cursor !== null && pages < 1000);
      for (let i = 1; i < seen.length; i++)
        expect(seen[i]!.raisedAt).toBeLessThanOrEqual(seen[i - 1]!.raisedAt);
      expect(new Set(seen.map((s) => s.id)).size).toBe(seen.length);
      const openIds = seen.map((s) => s.id).filter((id) => mine.some((o) => o.alertId === id));
      expect(openIds.sort()).toEqual(
        mine
          .filter((_, i) => i !== 2)
          .map((o) => o.alertId)
          .sort(),
      );
      const ofDevice = await run(store().ofDevice(device, 5));
      expect(ofDevice).toHaveLength(5);
      for (let i = 1; i < ofDevice.length; i++)
        expect(ofDevice[i]!.raisedAt).toBeLessThanOrEqual(ofDevice[i - 1]!.raisedAt);
      expect((await run(store().ofDevice(device, 50))).map((a) => a.id).sort()).toEqual(
        mine.map((o) => o.alertId).sort(),
      );
      expect(await run(store().ofDevice(fresh("quiet"), 5))).toEqual([]);
    });

    it("a cursor it did not give is an InvalidCursor", async () => {
      const out = await Effect.runPromise(
        Effect.either(store().listOpen({ limit: 3, cursor: "nope" })),
      );
      expect(Either.isLeft(out) && out.left._tag).toBe("InvalidCursor");
    });
  });
};
