import {
  clockFrom,
  intervalCacheLayer,
  type makeDynamoClient,
  makeDynamoStores,
  scanTable,
  storesLayer,
  type TableNames,
} from "@medusa/adapters";
import {
  type Actor,
  type DeviceImport,
  type EpochMillis,
  EventStore,
  type ImportPlan,
  importHistory,
  importReadings,
  planImport,
  planReadings,
  type ReadingsImport,
  type Resolutions,
  type RowCorrection,
} from "@medusa/domain";
import { Effect, Layer } from "effect";

export interface ImportOptions {
  readonly client: ReturnType<typeof makeDynamoClient>;
  /** MeDUSA Link's tables: where the import writes. */
  readonly tables: TableNames;
  /** The historical device–patient mapping table. */
  readonly mappingTable: string;
  /** The older sensor table, one item per reading; none when absent. */
  readonly sensorTable?: string;
  readonly actor: Actor;
  readonly now: EpochMillis;
  readonly dryRun: boolean;
  readonly resolve: Resolutions;
  readonly corrections: ReadonlyArray<RowCorrection>;
  readonly retentionMs?: number;
  /** Progress, for a person watching: one line that may be rewritten. */
  readonly progress: (line: string) => void;
}

export interface ImportReport {
  readonly plan: ImportPlan;
  /** Per device: written, already imported, or rejected by the device's stream. */
  readonly devices: ReadonlyArray<DeviceImport>;
  /** In a dry run: commits the plan holds that are not in the log yet. */
  readonly commitsToWrite: number;
  readonly readings: ReadingsImport | null;
  /** Sensor rows read (in a dry run too, where none are written). */
  readonly sensorRowsRead: number;
  /** Sensor rows refused (or, in a dry run, that would be), with the reason: not a reading, or older than the retention. */
  readonly sensorRowsRefused: ReadonlyArray<{ readonly row: string; readonly reason: string }>;
}

const bar = (done: number, of: number, what: string): string => {
  const width = 24;
  const filled = of === 0 ? width : Math.round((done / of) * width);
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${done}/${of} ${what}`;
};

/**
 * `medusa import`: reads the older system's tables, plans, and (unless a dry
 * run) writes the assignment commits and the packed sensor items. Refused
 * rows are reported in the plan, never written.
 */
export const runImport = (options: ImportOptions): Promise<ImportReport> => {
  const stores = makeDynamoStores({ client: options.client, tables: options.tables });
  const ports = Layer.merge(
    storesLayer(stores),
    clockFrom(() => options.now),
  );
  const layer = Layer.merge(ports, intervalCacheLayer(0).pipe(Layer.provide(ports)));
  const program = Effect.gen(function* () {
    const rows = yield* scanTable(options.client, options.mappingTable, {
      onPage: (n) => options.progress(`reading ${options.mappingTable}: ${n} rows`),
    });
    const plan = planImport(rows, {
      table: options.mappingTable,
      actor: options.actor,
      now: options.now,
      resolve: options.resolve,
      corrections: options.corrections,
    });
    const sensorRows =
      options.sensorTable === undefined
        ? []
        : yield* scanTable(options.client, options.sensorTable, {
            onPage: (n) => options.progress(`reading ${options.sensorTable}: ${n} rows`),
          });
    if (options.dryRun) {
      // Read-only: which of the plan's commands the log already holds.
      const store = yield* EventStore;
      let commitsToWrite = 0;
      for (const device of plan.devices) {
        const stream = yield* store.load(device.deviceId);
        const done = new Set(stream.commits.map((c) => c.commandId));
        commitsToWrite += device.steps.filter((s) => !done.has(s.command.commandId)).length;
      }
      const readingsPlan = planReadings(sensorRows, {
        now: options.now,
        ...(options.retentionMs !== undefined ? { retentionMs: options.retentionMs } : {}),
      });
      return {
        plan,
        devices: [],
        commitsToWrite,
        readings: null,
        sensorRowsRead: sensorRows.length,
        sensorRowsRefused: readingsPlan.refused,
      } satisfies ImportReport;
    }
    const devices = yield* importHistory(plan, {
      onDevice: (_, done, of) => options.progress(bar(done, of, "devices")),
    });
    const readings =
      options.sensorTable === undefined
        ? null
        : yield* importReadings(sensorRows, {
            now: options.now,
            ...(options.retentionMs !== undefined ? { retentionMs: options.retentionMs } : {}),
            onDevice: (_, done, of) => options.progress(bar(done, of, "devices' readings")),
          });
    return {
      plan,
      devices,
      commitsToWrite: 0,
      readings,
      sensorRowsRead: sensorRows.length,
      sensorRowsRefused: readings?.refused ?? [],
    } satisfies ImportReport;
  });
  return Effect.runPromise(Effect.provide(program, layer));
};
