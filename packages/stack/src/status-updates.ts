/**
 * The device statuses' writes of the local stack, one device at a time and a
 * few devices at once. In AWS each lifecycle event and shadow document is its
 * own Lambda invocation; here they arrive in one process, and a boot storm
 * (every device connecting, reporting its shadow and sending its first
 * samples within seconds) would otherwise start one read-modify-write per
 * event all at once: two saves of the same row race (one loses and decides
 * again), and hundreds of requests queue in the DynamoDB client ahead of the
 * API's reads. So the changes of a device that arrive while its row waits or
 * is being saved go together in its next save, the devices due go
 * `devicesPerSave` to a save (`saveStatusChangesOfDevices`: one request for
 * all their rows), at most `concurrency` saves at once, in the order the
 * devices became due, and a change that need not be seen at once (a sample
 * time, a shadow summary) may wait `waitMs` for others of its device to go
 * with it — a connect coming in the meantime takes it along.
 */
export interface StatusUpdates<Key, Change, Outcome> {
  /**
   * Queues `change` of `deviceId`'s status, to be saved within `waitMs`
   * (default 0: as soon as a save is free); resolves with its outcome once
   * saved (`undefined`: the save failed).
   */
  readonly submit: (deviceId: Key, change: Change, waitMs?: number) => Promise<Outcome | undefined>;
  /** Changes waiting or being saved. */
  readonly pending: () => number;
  /** Every waiting change due now, and from now on (the stack stops). */
  readonly flush: () => void;
}

interface Waiting<Change, Outcome> {
  readonly change: Change;
  /** When it must be saved by (ms since the epoch). */
  readonly dueAt: number;
  readonly done: (outcome: Outcome | undefined) => void;
}

export const startStatusUpdates = <Key, Change, Outcome>(options: {
  /**
   * Saves the changes of several devices together; answers, device by
   * device, an outcome per change in order, or `undefined` for a device
   * whose save failed (all `undefined` when the whole save did; it must not
   * reject).
   */
  readonly save: (
    devices: ReadonlyArray<{ readonly deviceId: Key; readonly changes: ReadonlyArray<Change> }>,
  ) => Promise<ReadonlyArray<ReadonlyArray<Outcome> | undefined> | undefined>;
  /** Saves running at the same time at most. */
  readonly concurrency: number;
  /** Devices in one save at most (default 1). */
  readonly devicesPerSave?: number;
}): StatusUpdates<Key, Change, Outcome> => {
  const devicesPerSave = options.devicesPerSave ?? 1;
  let running = 0;
  const waiting = new Map<Key, Array<Waiting<Change, Outcome>>>();
  /** Devices with changes due and none being saved, in the order they became due. */
  const ready = new Set<Key>();
  /** Devices whose waiting changes are not due yet: the timer that makes them due. */
  const timers = new Map<Key, { readonly at: number; readonly timer: NodeJS.Timeout }>();
  const saving = new Set<Key>();
  let count = 0;
  let flushed = false;

  const makeReady = (deviceId: Key) => {
    const held = timers.get(deviceId);
    if (held) clearTimeout(held.timer);
    timers.delete(deviceId);
    ready.add(deviceId);
  };

  /** A device with waiting changes and no save running: ready once its first change is due. */
  const schedule = (deviceId: Key) => {
    if (saving.has(deviceId) || ready.has(deviceId)) return;
    const changes = waiting.get(deviceId);
    if (changes === undefined) return;
    const at = Math.min(...changes.map((w) => w.dueAt));
    const delay = at - Date.now();
    if (flushed || delay <= 0) return makeReady(deviceId);
    const held = timers.get(deviceId);
    if (held && held.at <= at) return;
    if (held) clearTimeout(held.timer);
    const timer = setTimeout(() => {
      timers.delete(deviceId);
      makeReady(deviceId);
      pump();
    }, delay);
    timer.unref();
    timers.set(deviceId, { at, timer });
  };

  const pump = () => {
    while (running < options.concurrency && ready.size > 0) {
      // A Set keeps the order its members came in: the first `devicesPerSave` became due first.
      const devices: Array<Key> = [];
      for (const deviceId of ready) {
        if (devices.length === devicesPerSave) break;
        devices.push(deviceId);
      }
      const batches = devices.map((deviceId) => {
        ready.delete(deviceId);
        saving.add(deviceId);
        const batch = waiting.get(deviceId) ?? [];
        waiting.delete(deviceId);
        return batch;
      });
      running++;
      void options
        .save(
          devices.map((deviceId, k) => ({
            deviceId,
            changes: (batches[k] ?? []).map((w) => w.change),
          })),
        )
        .catch(() => undefined)
        .then((outcomes) => {
          running--;
          for (const [k, deviceId] of devices.entries()) {
            saving.delete(deviceId);
            const batch = batches[k] ?? [];
            count -= batch.length;
            for (const [i, w] of batch.entries()) w.done(outcomes?.[k]?.[i]);
          }
          // What came for these devices while they were being saved goes when due, behind the others ready.
          for (const deviceId of devices) schedule(deviceId);
          pump();
        });
    }
  };

  return {
    submit: (deviceId, change, waitMs = 0) =>
      new Promise((done) => {
        count++;
        const entry = { change, dueAt: Date.now() + waitMs, done };
        const list = waiting.get(deviceId);
        if (list) list.push(entry);
        else waiting.set(deviceId, [entry]);
        schedule(deviceId);
        pump();
      }),
    pending: () => count,
    flush: () => {
      flushed = true;
      for (const deviceId of [...timers.keys()]) makeReady(deviceId);
      pump();
    },
  };
};
