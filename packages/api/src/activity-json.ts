import type { ActivityEpoch } from "@medusa/domain";
import { Schema } from "effect";
import { ActivityEpochView, ActivityResponse } from "./schemas.js";

/**
 * The activity page's JSON without `Schema.encode` walking every epoch: a
 * week of 60 s epochs is 10,080 objects of 12 fields (about 2 MB), and the
 * generic encoder (then `JSON.stringify`) cost more than the read. The
 * envelope still goes through the response schema; the epochs are written
 * straight from the domain's values. `ActivityEpochView` is all plain
 * fields (its encoded form is its type, checked below when this module
 * loads), so this is the same JSON `send` gives (a property test holds
 * them equal).
 */

const fields = Object.keys(ActivityEpochView.fields).join(",");
const EXPECTED =
  "time,epoch_ms,device_id,enmo_mg,mad_mg,samples,expected_samples,coverage,wear,intensity,steps,cadence_spm";
if (fields !== EXPECTED || Schema.encodedSchema(ActivityEpochView).ast._tag !== "TypeLiteral")
  throw new Error(`ActivityEpochView changed (${fields}): update activity-json.ts`);

/** An epoch as the API shows it (`ActivityEpochView`). */
export const epochView = (e: ActivityEpoch): typeof ActivityEpochView.Type => ({
  time: e.start,
  epoch_ms: e.epochMs,
  device_id: e.deviceId,
  enmo_mg: e.enmoMg,
  mad_mg: e.madMg,
  samples: e.samples,
  expected_samples: e.expected,
  coverage: e.coverage,
  wear: e.wear,
  intensity: e.intensity,
  steps: e.steps,
  cadence_spm: e.cadence,
});

const encodeEnvelope = Schema.encodeSync(ActivityResponse);
// The envelope's JSON before the epochs is written first, before the count and the cursor are known.
if (Object.keys(ActivityResponse.fields).slice(0, 2).join(",") !== "patient_id,epochs")
  throw new Error("ActivityResponse changed its fields' order: update activity-json.ts");

/**
 * The most bytes of epochs one page's JSON holds as Lambda answers it (the
 * body a JSON string, each quote escaped): Lambda's response may not exceed
 * 6 MB (6,291,456 bytes), and this leaves some 790 KB for the envelope and the
 * headers. A week of 60 s epochs is about 240 such bytes an epoch (10,080
 * epochs of one device about 2.4 MB): a patient's week comes back in one page
 * with up to two devices worn all week at once (and a third for a day or
 * more); epochs past the budget (long device ids, three devices all week, 5 s
 * epochs) go to the next page, its cursor after the last epoch written.
 */
export const ACTIVITY_PAGE_BYTES = 5_500_000;

export interface PageBudget {
  readonly maxBytes: number;
  /** The next page's cursor when the page ends after epoch `e`. */
  readonly cursorAfter: (e: ActivityEpoch) => string;
}

const utf8 = new TextEncoder();

/**
 * JSON written byte by byte into a buffer that grows: a week's page is some
 * 2.4 MB, and as one string (grown epoch by epoch, then made a body) it cost
 * more than writing it: the body's conversion of the string (flattening it,
 * checking it is well-formed, encoding it as UTF-8) and the collection of
 * its garbage. Whole numbers are written digit by digit; other numbers as
 * `String(n)` (the JSON of a finite number) gives them.
 */
class JsonBytes {
  bytes: Uint8Array<ArrayBuffer>;
  at = 0;
  constructor(capacity: number) {
    this.bytes = new Uint8Array(Math.max(capacity, 256));
  }
  /** Room for `n` more bytes. */
  room(n: number): void {
    if (this.at + n <= this.bytes.length) return;
    const grown = new Uint8Array(Math.max(this.at + n, this.bytes.length * 2));
    grown.set(this.bytes.subarray(0, this.at));
    this.bytes = grown;
  }
  /** ASCII text (room made by the caller). */
  ascii(s: string): void {
    const b = this.bytes;
    let at = this.at;
    for (let i = 0; i < s.length; i++) b[at++] = s.charCodeAt(i);
    this.at = at;
  }
  /** Bytes (room made by the caller). */
  raw(x: Uint8Array): void {
    const b = this.bytes;
    let at = this.at;
    for (let i = 0; i < x.length; i++) b[at++] = x[i] as number;
    this.at = at;
  }
  /** Any text, as UTF-8. */
  text(s: string): void {
    this.room(s.length * 3);
    this.at += utf8.encodeInto(s, this.bytes.subarray(this.at)).written;
  }
  /** A number as `JSON.stringify` writes it: non-finite ones are null (at most 24 bytes, room made by the caller). */
  number(n: number): void {
    if (Number.isSafeInteger(n)) this.whole(n);
    else if (Number.isFinite(n)) this.ascii(String(n));
    else this.ascii("null");
  }
  /** A safe integer (−0 written as 0, as JSON does). */
  private whole(n: number): void {
    const b = this.bytes;
    let v = n;
    if (v < 0) {
      b[this.at++] = 45;
      v = -v;
    }
    let digits = 1;
    for (let p = 10; p <= v; p *= 10) digits++;
    let i = this.at + digits;
    this.at = i;
    do {
      const q = Math.floor(v / 10);
      b[--i] = 48 + (v - q * 10);
      v = q;
    } while (v > 0);
  }
  /** What has been written (a view of the buffer). */
  written(): Uint8Array<ArrayBuffer> {
    return this.bytes.subarray(0, this.at);
  }
}

const ascii = (s: string): Uint8Array => utf8.encode(s);
const TIME = ascii('{"time":');
const EPOCH_MS = ascii(',"epoch_ms":');
const DEVICE = ascii(',"device_id":');
const ENMO = ascii(',"enmo_mg":');
const MAD = ascii(',"mad_mg":');
const SAMPLES = ascii(',"samples":');
const EXPECTED_SAMPLES = ascii(',"expected_samples":');
const COVERAGE = ascii(',"coverage":');
const WEAR_TRUE = ascii(',"wear":true,"intensity":');
const WEAR_FALSE = ascii(',"wear":false,"intensity":');
const STEPS = ascii(',"steps":');
const CADENCE = ascii(',"cadence_spm":');
const INTENSITY: Record<NonNullable<ActivityEpoch["intensity"]>, Uint8Array> = {
  sedentary: ascii('"sedentary"'),
  light: ascii('"light"'),
  moderate: ascii('"moderate"'),
  vigorous: ascii('"vigorous"'),
};
const NULL = ascii("null");
/** The quotes of an epoch's JSON other than its device id's and its intensity's: its twelve names'. */
const NAME_QUOTES = 24;
/** An epoch's bytes besides its device id and its numbers, at most. */
const EPOCH_FIXED = 200;
/** A number's JSON, at most ("-1.2345678901234567e-300"). */
const NUMBER_MAX = 24;

/** A device id as the epochs write it: its JSON, its UTF-8, and what Lambda's response makes of it. */
interface DeviceJson {
  readonly bytes: Uint8Array;
  /** Its JSON's length in characters (its UTF-8's when ASCII, as device ids are). */
  readonly chars: number;
  readonly quotes: number;
}

const deviceJsonOf = (id: string): DeviceJson => {
  const json = JSON.stringify(id);
  let quotes = 0;
  for (let i = json.indexOf('"'); i !== -1; i = json.indexOf('"', i + 1)) quotes++;
  return { bytes: utf8.encode(json), chars: json.length, quotes };
};

export interface ActivityPageJson {
  readonly patient_id: string;
  readonly epochs: ReadonlyArray<ActivityEpoch>;
  readonly next_cursor: string | null;
  readonly cut_points: typeof ActivityResponse.Type.cut_points;
  readonly algorithms: Readonly<Record<string, string>>;
}

const MARKER = '"epochs":[]';

/** The envelope's JSON around the epochs: before them, after them. */
const envelopeOf = (
  page: ActivityPageJson,
  count: number,
  next: string | null,
): readonly [string, string] => {
  const envelope = JSON.stringify(
    encodeEnvelope({
      patient_id: page.patient_id,
      epochs: [],
      count,
      next_cursor: next,
      cut_points: page.cut_points,
      algorithms: page.algorithms,
    }),
  );
  const at = envelope.indexOf(MARKER);
  return [`${envelope.slice(0, at)}"epochs":[`, `]${envelope.slice(at + MARKER.length)}`];
};

/**
 * The page as the bytes of its JSON (UTF-8): the envelope through the
 * schema, the epochs written directly. With a budget, the epochs stop before
 * the one that would take them past `maxBytes` as Lambda's response carries
 * them (their characters and an escape per quote; one epoch at least), and
 * `next_cursor` then follows the last one written.
 */
export const activityPageBody = (
  page: ActivityPageJson,
  budget?: PageBudget,
): Uint8Array<ArrayBuffer> => {
  const epochs = page.epochs;
  const [head] = envelopeOf(page, 0, page.next_cursor);
  const out = new JsonBytes(
    head.length * 3 + 1024 + Math.min(epochs.length * 256, (budget?.maxBytes ?? 1e9) + 4096),
  );
  out.text(head);
  const devices = new Map<string, DeviceJson>();
  let bytes = 0;
  let count = 0;
  let next = page.next_cursor;
  for (const e of epochs) {
    let device = devices.get(e.deviceId);
    if (device === undefined) {
      device = deviceJsonOf(e.deviceId);
      devices.set(e.deviceId, device);
    }
    out.room(EPOCH_FIXED + device.bytes.length + 9 * NUMBER_MAX);
    const before = out.at;
    if (count > 0) out.bytes[out.at++] = 44; // ","
    out.raw(TIME);
    out.number(e.start);
    out.raw(EPOCH_MS);
    out.number(e.epochMs);
    out.raw(DEVICE);
    out.raw(device.bytes);
    out.raw(ENMO);
    out.number(e.enmoMg);
    out.raw(MAD);
    out.number(e.madMg);
    out.raw(SAMPLES);
    out.number(e.samples);
    out.raw(EXPECTED_SAMPLES);
    out.number(e.expected);
    out.raw(COVERAGE);
    out.number(e.coverage);
    out.raw(e.wear ? WEAR_TRUE : WEAR_FALSE);
    out.raw(e.intensity === null ? NULL : INTENSITY[e.intensity]);
    out.raw(STEPS);
    out.number(e.steps);
    out.raw(CADENCE);
    out.number(e.cadence);
    out.bytes[out.at++] = 125; // "}"
    if (budget) {
      bytes +=
        out.at -
        before -
        device.bytes.length +
        device.chars +
        NAME_QUOTES +
        device.quotes +
        (e.intensity === null ? 0 : 2);
      if (count > 0 && bytes > budget.maxBytes) {
        out.at = before;
        next = budget.cursorAfter(epochs[count - 1] as ActivityEpoch);
        break;
      }
    }
    count++;
  }
  out.text(envelopeOf(page, count, next)[1]);
  return out.written();
};

const utf8Text = new TextDecoder();

/** The page as JSON text (`activityPageBody`'s bytes as a string). */
export const activityPageJson = (page: ActivityPageJson, budget?: PageBudget): string =>
  utf8Text.decode(activityPageBody(page, budget));
