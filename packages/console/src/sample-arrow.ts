import { type Data, DataType, type Table, tableFromIPC } from "apache-arrow";
import type { SampleColumns } from "./activity.js";
import { joinSampleColumns } from "./raw-columns.js";

export { ARROW_STREAM } from "./api.js";

/**
 * A sensor-data page read as Apache Arrow (`application/vnd.apache.arrow.stream`,
 * the API's `timeline-arrow.ts`): the raw view's columns straight from the
 * stream's typed arrays, with no object per sample. Loaded with the chart's
 * code (`chart.ts` re-exports it), never with the first page.
 */

export interface SamplePage {
  readonly columns: SampleColumns;
  readonly nextCursor: string | null;
}

const TWO_32 = 2 ** 32;

/** An Int64 chunk's values (Timestamp ms) as numbers: exact below 2^53. */
const int64AsNumbers = (values: BigInt64Array): Float64Array => {
  const lo = new Uint32Array(values.buffer, values.byteOffset, values.length * 2);
  const hi = new Int32Array(values.buffer, values.byteOffset, values.length * 2);
  const out = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++)
    out[i] = (lo[2 * i] as number) + (hi[2 * i + 1] as number) * TWO_32;
  return out;
};

/** A column's chunks, once its type is the one the API writes (`is`: Arrow's own type test). */
const chunksOf = (
  table: Table,
  name: string,
  is: (type: DataType) => boolean,
): ReadonlyArray<Data> => {
  const column = table.getChild(name);
  if (!column) throw new Error(`the page has no ${name} column`);
  if (!is(column.type)) throw new Error(`the page's ${name} column is ${column.type}`);
  return column.data;
};

/** A chunk's values, checked (not cast) to be the typed array the API writes for the column. */
const valuesOf = <A>(chunk: Data, array: new (length: number) => A, name: string): A => {
  const values: unknown = chunk.values;
  if (!(values instanceof array))
    throw new Error(`the page's ${name} values are not the API's ${array.name}`);
  return values;
};

/** A device_id chunk's dictionary: the devices' names. */
const devicesOf = (chunk: Data): Array<string> => {
  const names: unknown = chunk.dictionary?.toArray() ?? [];
  if (!Array.isArray(names) || !names.every((n): n is string => typeof n === "string"))
    throw new Error("the page's device_id dictionary is not of names");
  return names;
};

/** A page's bytes as the raw view's columns and the next page's cursor. */
export const samplePageOfArrow = (bytes: Uint8Array): SamplePage => {
  const table = tableFromIPC(bytes);
  const time = chunksOf(table, "timestamp", DataType.isTimestamp);
  const device = chunksOf(table, "device_id", DataType.isDictionary);
  const magnitude = chunksOf(table, "magnitude", DataType.isFloat);
  const parts = time.map((t, k): SampleColumns => {
    const d = device[k];
    const m = magnitude[k];
    if (!d || !m || t.offset !== 0 || d.offset !== 0 || m.offset !== 0 || m.nullCount > 0)
      throw new Error("the page's columns are not as the API writes them");
    return {
      count: t.length,
      time: int64AsNumbers(valuesOf(t, BigInt64Array, "timestamp").subarray(0, t.length)),
      device: valuesOf(d, Int32Array, "device_id").subarray(0, d.length),
      devices: devicesOf(d),
      magnitude: valuesOf(m, Float64Array, "magnitude").subarray(0, m.length),
    };
  });
  return {
    columns:
      parts.length === 0
        ? { count: 0, time: [], device: [], devices: [], magnitude: [] }
        : joinSampleColumns(parts),
    nextCursor: table.schema.metadata.get("next_cursor") ?? null,
  };
};
