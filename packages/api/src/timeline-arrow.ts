import type { PatientId, TimelinePage, TimelineSample } from "@medusa/domain";
import {
  Dictionary,
  Field,
  Float64,
  Int32,
  Int64,
  makeData,
  makeVector,
  RecordBatch,
  Schema,
  Struct,
  Table,
  TimestampMillisecond,
  tableToIPC,
  Utf8,
  vectorFromArray,
} from "apache-arrow";
import { shownAsIs, timelinePageJson } from "./timeline-json.js";

/**
 * The sensor-data page as an Apache Arrow IPC stream
 * (`application/vnd.apache.arrow.stream`): one record batch of the page's
 * samples, column by column, for pandas/polars/R and for the console's raw
 * view. A page of 10,000 samples as JSON is ~1.7 MB and most of its time is
 * spent writing doubles as text; here the server fills typed arrays straight
 * from the domain's page (no view object or schema walk per sample) and sends
 * their bytes.
 *
 * Columns (in this order):
 * - `timestamp`: Timestamp(ms, "UTC"): the sample's time (Unix ms).
 * - `device_id`: Dictionary<Int32, Utf8>: the device the sample came from.
 * - `accel_x`, `accel_y`, `accel_z`: Float64, g.
 * - `magnitude`: Float64, g: the device's own magnitude, bit for bit.
 * - `temperature`: Float64 (nullable), °C; null when the device sent none.
 * - `sequence`: Int64: the device's sequence number.
 *
 * Floats are the domain's values exactly: -0 stays -0, and a NaN or an
 * infinity (never stored: the ingest refuses them) would be carried as such
 * (JSON writes them as null and -0 as 0). The schema's metadata holds
 * `patient_id`, `count` and `next_cursor` (absent on the last page); the route
 * also puts `next_cursor` in the `x-next-cursor` header.
 */

export const ARROW_STREAM = "application/vnd.apache.arrow.stream";

/** Whether the client asked for Arrow (`Accept: application/vnd.apache.arrow.stream`). */
export const wantsArrow = (accept: string | undefined): boolean =>
  /\bapplication\/vnd\.apache\.arrow\.stream\b/i.test(accept ?? "");

/** The metadata keys of the stream's schema. */
export const ARROW_METADATA = {
  patientId: "patient_id",
  count: "count",
  nextCursor: "next_cursor",
} as const;

const TWO_32 = 2 ** 32;

const deviceType = () => new Dictionary(new Utf8(), new Int32(), 0, false);

const fieldsOf = () => [
  new Field("timestamp", new TimestampMillisecond("UTC"), false),
  new Field("device_id", deviceType(), false),
  new Field("accel_x", new Float64(), false),
  new Field("accel_y", new Float64(), false),
  new Field("accel_z", new Float64(), false),
  new Field("magnitude", new Float64(), false),
  new Field("temperature", new Float64(), true),
  new Field("sequence", new Int64(), false),
];

/** A non-negative safe integer into an Int64 column's two 32-bit words (little-endian). */
const putInt64 = (words: Uint32Array, i: number, n: number) => {
  words[2 * i] = n >>> 0;
  words[2 * i + 1] = Math.floor(n / TWO_32);
};

/** The page as Arrow IPC stream bytes. */
export const timelinePageArrow = (
  patientId: PatientId,
  page: TimelinePage,
): Uint8Array<ArrayBuffer> => {
  const samples = page.samples;
  const n = samples.length;
  const timestamp = new BigInt64Array(n);
  const timeWords = new Uint32Array(timestamp.buffer);
  const sequence = new BigInt64Array(n);
  const sequenceWords = new Uint32Array(sequence.buffer);
  const x = new Float64Array(n);
  const y = new Float64Array(n);
  const z = new Float64Array(n);
  const magnitude = new Float64Array(n);
  const temperature = new Float64Array(n);
  const temperatureValid = new Uint8Array((n + 7) >> 3);
  let temperatureNulls = 0;
  const device = new Int32Array(n);
  const devices: Array<string> = [];
  const deviceIndex = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const s = samples[i] as TimelineSample;
    if (!shownAsIs(s) || !Number.isSafeInteger(s.sequence) || s.sequence < 0)
      // The JSON's answer for a sample the response schema would not show: its refusal.
      return refuse(patientId, page, s);
    putInt64(timeWords, i, s.timestamp);
    putInt64(sequenceWords, i, s.sequence);
    x[i] = s.x;
    y[i] = s.y;
    z[i] = s.z;
    magnitude[i] = s.magnitude;
    if (s.temperature !== undefined) {
      temperature[i] = s.temperature;
      temperatureValid[i >> 3] = (temperatureValid[i >> 3] as number) | (1 << (i & 7));
    } else temperatureNulls++;
    let d = deviceIndex.get(s.deviceId);
    if (d === undefined) {
      d = devices.length;
      devices.push(s.deviceId);
      deviceIndex.set(s.deviceId, d);
    }
    device[i] = d;
  }
  const fields = fieldsOf();
  const [tField, dField, xField, yField, zField, mField, cField, sField] = fields as [
    Field<TimestampMillisecond>,
    Field<Dictionary<Utf8, Int32>>,
    Field<Float64>,
    Field<Float64>,
    Field<Float64>,
    Field<Float64>,
    Field<Float64>,
    Field<Int64>,
  ];
  const float = (type: Float64, data: Float64Array) => makeData({ type, length: n, data });
  const columns = [
    makeData({ type: tField.type, length: n, data: timestamp }),
    makeData({
      type: dField.type,
      length: n,
      data: device,
      dictionary: makeVector(vectorFromArray(devices, new Utf8()).data),
    }),
    float(xField.type, x),
    float(yField.type, y),
    float(zField.type, z),
    float(mField.type, magnitude),
    temperatureNulls === 0
      ? float(cField.type, temperature)
      : makeData({
          type: cField.type,
          length: n,
          data: temperature,
          nullBitmap: temperatureValid,
          nullCount: temperatureNulls,
        }),
    makeData({ type: sField.type, length: n, data: sequence }),
  ];
  const metadata = new Map<string, string>([
    [ARROW_METADATA.patientId, patientId],
    [ARROW_METADATA.count, String(n)],
  ]);
  if (page.nextCursor !== null) metadata.set(ARROW_METADATA.nextCursor, page.nextCursor);
  const schema = new Schema(fields, metadata);
  const batch = new RecordBatch(
    schema,
    makeData({ type: new Struct(fields), length: n, nullCount: 0, children: columns }),
  );
  // The writer's bytes are its own ArrayBuffer (never shared memory).
  return tableToIPC(new Table(schema, [batch]), "stream") as Uint8Array<ArrayBuffer>;
};

/** A sample the JSON would refuse: the JSON's refusal (the response schema's), thrown as it does. */
const refuse = (patientId: PatientId, page: TimelinePage, s: TimelineSample): never => {
  timelinePageJson(patientId, page);
  throw new Error(
    `sample ${s.deviceId}@${s.timestamp} cannot be sent as Arrow: sequence ${s.sequence} is not a non-negative integer`,
  );
};
