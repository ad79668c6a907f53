/**
 * The device statuses' writes of the local stack, one device at a time and a
 * few devices at once. In AWS each lifecycle event and shadow document is its
 * own Lambda invocation; here they arrive in one process, and a boot storm
 * (every device connecting and reporting its shadow within seconds) would
 * otherwise start one read-modify-write per event all at once: two saves of
 * the same row race (one loses and decides again), and hundreds of requests
 * queue in the DynamoDB client ahead of the API's reads. So the changes of a
 * device that arrive while its row is being saved wait and go together in
 * the next save (one read, one write: `saveStatusChanges`), and at most
 * `concurrency` devices are saved at once, in the order they asked.
 */
export interface StatusUpdates<Key, Change, Outcome> {
  /** Queues `change` of `deviceId`'s status; resolves with its outcome once saved (`undefined`: the save failed). */
  readonly submit: (deviceId: Key, change: Change) => Promise<Outcome | undefined>;
  /** Changes waiting or being saved. */
  readonly pending: () => number;
}

interface Waiting<Change, Outcome> {
  readonly change: Change;
  readonly done: (outcome: Outcome | undefined) => void;
}

export const startStatusUpdates = <Key, Change, Outcome>(options: {
  /**
   * Saves the changes of one device together; answers an outcome per change,
   * in order, or `undefined` when the save failed (it must not reject).
   */
  readonly save: (
    deviceId: Key,
    changes: ReadonlyArray<Change>,
  ) => Promise<ReadonlyArray<Outcome> | undefined>;
  /** Devices saved at the same time at most. */
  readonly concurrency: number;
}): StatusUpdates<Key, Change, Outcome> => {
  const waiting = new Map<Key, Array<Waiting<Change, Outcome>>>();
  /** Devices with changes waiting and none being saved, in the order they asked. */
  const ready: Array<Key> = [];
  const saving = new Set<Key>();
  let count = 0;

  const pump = () => {
    while (saving.size < options.concurrency) {
      const deviceId = ready.shift();
      if (deviceId === undefined) return;
      const batch = waiting.get(deviceId) ?? [];
      waiting.delete(deviceId);
      saving.add(deviceId);
      void options
        .save(
          deviceId,
          batch.map((w) => w.change),
        )
        .catch(() => undefined)
        .then((outcomes) => {
          saving.delete(deviceId);
          count -= batch.length;
          for (const [i, w] of batch.entries()) w.done(outcomes?.[i]);
          // What came for this device while it was being saved goes next, behind the others waiting.
          if (waiting.has(deviceId)) ready.push(deviceId);
          pump();
        });
    }
  };

  return {
    submit: (deviceId, change) =>
      new Promise((done) => {
        count++;
        const list = waiting.get(deviceId);
        if (list) list.push({ change, done });
        else {
          waiting.set(deviceId, [{ change, done }]);
          if (!saving.has(deviceId)) ready.push(deviceId);
        }
        pump();
      }),
    pending: () => count,
  };
};
