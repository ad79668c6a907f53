import type { PatientId, TimelinePage, TimelineSample } from "@medusa/domain";
import { Schema } from "effect";
import { SampleFields, SensorDataResponse } from "./schemas.js";
import { timelineView } from "./views.js";

/**
 * The sensor-data page's JSON without `Schema.encode` and the view mapping
 * walking every sample: a page is up to 10,000 samples (the console reads an
 * hour, 36,000, to zoom to raw), and building a view object per sample, the
 * schema's walk and `JSON.stringify` cost more than the page's read. The
 * envelope still goes through the response schema; the samples are written
 * straight from the domain's values, in `SampleFields`' order (checked below
 * when this module loads). A sample the schema would refuse (it never comes
 * from the store) sends the page through the schema, which refuses it as
 * before. A property test holds this equal to `send`'s JSON.
 */

const fields = Object.keys(SampleFields.fields).join(",");
const EXPECTED = "device_id,timestamp,accel_x,accel_y,accel_z,magnitude,temperature,sequence";
if (fields !== EXPECTED)
  throw new Error(`SampleFields changed (${fields}): update timeline-json.ts`);

/** A number as JSON writes it (non-finite numbers are null there). */
const num = (n: number): string => (Number.isFinite(n) ? String(n) : "null");

const encodePage = Schema.encodeSync(SensorDataResponse);

/** A sample as the view's JSON object, fields in the schema's order. */
const sampleJson = (s: TimelineSample, device: string): string =>
  s.temperature !== undefined
    ? `{"device_id":${device},"timestamp":${s.timestamp},"accel_x":${num(s.x)},"accel_y":${num(s.y)},"accel_z":${num(s.z)},"magnitude":${num(s.magnitude)},"temperature":${num(s.temperature)},"sequence":${num(s.sequence)}}`
    : `{"device_id":${device},"timestamp":${s.timestamp},"accel_x":${num(s.x)},"accel_y":${num(s.y)},"accel_z":${num(s.z)},"magnitude":${num(s.magnitude)},"sequence":${num(s.sequence)}}`;

/** What `isSampleView` (schemas.ts) asks of a sample's view, asked of the domain's sample. */
export const shownAsIs = (s: TimelineSample): boolean =>
  typeof s.deviceId === "string" &&
  typeof s.x === "number" &&
  typeof s.y === "number" &&
  typeof s.z === "number" &&
  typeof s.magnitude === "number" &&
  typeof s.sequence === "number" &&
  (s.temperature === undefined || typeof s.temperature === "number") &&
  Number.isInteger(s.timestamp) &&
  s.timestamp >= 0 &&
  s.timestamp <= 8_640_000_000_000_000;

/** The page as JSON text: what `send(c, SensorDataResponse, timelineView(…))` sends. */
export const timelinePageJson = (patientId: PatientId, page: TimelinePage): string => {
  // The envelope through the schema: an empty page's, its `"data":[]` filled below.
  const envelope = JSON.stringify(
    encodePage({
      patient_id: patientId,
      data: [],
      count: page.samples.length,
      next_cursor: page.nextCursor,
    }),
  );
  const devices = new Map<string, string>();
  // One string grown sample by sample (V8 flattens it once, when it is sent), as activity-json.
  let data = "";
  for (const s of page.samples) {
    if (!shownAsIs(s)) {
      // The schema's own answer (its refusal) for a sample it would not show.
      const all = encodePage(timelineView(patientId, page));
      return JSON.stringify(all);
    }
    let device = devices.get(s.deviceId);
    if (device === undefined) {
      device = JSON.stringify(s.deviceId);
      devices.set(s.deviceId, device);
    }
    data += data === "" ? sampleJson(s, device) : `,${sampleJson(s, device)}`;
  }
  const marker = '"data":[]';
  const at = envelope.indexOf(marker);
  return `${envelope.slice(0, at)}"data":[${data}]${envelope.slice(at + marker.length)}`;
};
