import { MqttConnection, type MqttConnectionService, NotConnected } from "@medusa/adapters/mqtt";
import {
  type OutboxEntry,
  OutboxWriteFailed,
  SampleJournal,
  type SampleJournalService,
  SampleOutbox,
  type SampleOutboxService,
} from "@medusa/adapters/outbox";
import {
  type MotionReading,
  MotionSensor,
  type MotionSensorService,
} from "@medusa/adapters/sensor";
import { type Context, Effect, Layer } from "effect";
import type { AgentLayer } from "../run.js";
import { SequenceStore, type SequenceStoreService } from "../sequence.js";

/**
 * A sensor giving readings at an exact cadence from the wall clock; its
 * timestamps are off by `offset` ms (a clock that is not set yet).
 */
export const cadenceSensor = () => {
  let next = Date.now();
  const s = {
    model: "test",
    rate: 0,
    rateChanges: 0,
    offset: 0,
    start: async (hz: number) => {
      s.rate = hz;
    },
    setRate: async (hz: number) => {
      s.rate = hz;
      s.rateChanges++;
    },
    drain: async () => {
      const out: Array<MotionReading> = [];
      const step = 1000 / s.rate;
      while (next <= Date.now()) {
        out.push({ timestamp: Math.round(next + s.offset), x: 0, y: 0, z: 1 });
        next += step;
      }
      return out;
    },
    health: () => ({ healthy: true, errorCount: 0, lost: 0 }),
    close: async () => {},
  };
  return s satisfies MotionSensorService;
};

/** An outbox in memory; `failing` makes appends fail as a full or broken disk does. */
export const memoryOutbox = () => {
  const entries = new Map<number, OutboxEntry>();
  let id = 0;
  const box = {
    entries,
    appends: 0,
    failing: false,
    closed: false,
    appendedAfterClose: 0,
    append: async (payload: string | Uint8Array, topic: string) => {
      if (box.failing) throw new OutboxWriteFailed({ message: "EIO: i/o error, write" });
      if (box.closed) box.appendedAfterClose++;
      box.appends++;
      const entry = { id: ++id, topic, payload: Buffer.from(payload), appendedAt: Date.now() };
      entries.set(entry.id, entry);
      return entry;
    },
    pending: (limit = Number.POSITIVE_INFINITY, after = 0) =>
      [...entries.values()].filter((e) => e.id > after).slice(0, limit),
    newest: () => [...entries.values()].at(-1),
    ack: (i: number) => {
      entries.delete(i);
    },
    stats: () => ({
      depth: entries.size,
      bytes: 0,
      drops: 0,
      appended: box.appends,
      acked: 0,
      repaired: 0,
      lastError: null,
    }),
    close: async () => {
      box.closed = true;
    },
  };
  return box satisfies SampleOutboxService;
};

/** A journal in memory; `recovered()` gives what `records` held when it was made (a restart). */
export const memoryJournal = (left: ReadonlyArray<string> = []) => {
  const j = {
    records: [...left],
    failing: false,
    write: (payload: string | Uint8Array) => {
      if (j.failing) throw new OutboxWriteFailed({ message: "EIO: i/o error, write" });
      j.records.push(Buffer.from(payload).toString());
    },
    recovered: () => left.map((r) => Buffer.from(r)),
    clear: () => {
      if (j.failing) throw new OutboxWriteFailed({ message: "EIO: i/o error, truncate" });
      j.records = [];
    },
    close: async () => {},
  };
  return j satisfies SampleJournalService;
};

/** A transport whose PUBACKs and connection the test controls. */
export const fakeTransport = () => {
  const connect: Array<() => void> = [];
  const disconnect: Array<() => void> = [];
  const handlers: Array<(topic: string, payload: Uint8Array) => void> = [];
  const published: Array<{ topic: string; payload: string }> = [];
  const t = {
    connected: false,
    acking: true,
    published,
    publish: async (topic: string, payload: string | Uint8Array) => {
      if (!t.connected) throw new NotConnected({ message: "not connected" });
      published.push({ topic, payload: Buffer.from(payload).toString() });
      if (!t.acking) return new Promise<void>(() => {});
    },
    subscribe: async (_: string, h: (topic: string, payload: Uint8Array) => void) => {
      handlers.push(h);
    },
    onConnect: (l: () => void) => void connect.push(l),
    onDisconnect: (l: () => void) => void disconnect.push(l),
    reconnects: () => 0,
    close: async () => {},
    up: () => {
      t.connected = true;
      for (const l of connect) l();
    },
    down: () => {
      t.connected = false;
      for (const l of disconnect) l();
    },
    deliver: (topic: string, payload: string) => {
      for (const h of handlers) h(topic, Buffer.from(payload));
    },
  };
  return t satisfies MqttConnectionService;
};

/** A port that was opened elsewhere, closed when the layer's scope closes, as the real ones are. */
const closing = <I, S extends { close(): Promise<void> }>(tag: Context.Tag<I, S>, service: S) =>
  Layer.scoped(
    tag,
    Effect.acquireRelease(Effect.succeed(service), (s) => Effect.promise(() => s.close())),
  );

/**
 * Given ports as the agent's layer; without a sequence store, numbering starts
 * at 0 and is not kept; without a journal, an empty one in memory.
 */
export const portsLayer = (ports: {
  readonly sensor: MotionSensorService;
  readonly outbox: SampleOutboxService;
  readonly transport: MqttConnectionService;
  readonly sequence?: SequenceStoreService;
  readonly journal?: SampleJournalService;
}): AgentLayer<never> =>
  Layer.mergeAll(
    closing(MotionSensor, ports.sensor),
    closing(SampleOutbox, ports.outbox),
    closing(MqttConnection, ports.transport),
    closing(SampleJournal, ports.journal ?? memoryJournal()),
    Layer.succeed(SequenceStore, ports.sequence ?? { load: () => 0, save: () => {} }),
  );
