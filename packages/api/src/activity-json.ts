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

/** A number as JSON writes it (non-finite numbers are null there). */
const num = (n: number): string => (Number.isFinite(n) ? String(n) : "null");

/** An epoch as the view's JSON object, fields in the schema's order (`device`: the id's JSON). */
const epochJson = (e: ActivityEpoch, device: string): string =>
  `{"time":${num(e.start)},"epoch_ms":${num(e.epochMs)},"device_id":${device},"enmo_mg":${num(e.enmoMg)},"mad_mg":${num(e.madMg)},"samples":${num(e.samples)},"expected_samples":${num(e.expected)},"coverage":${num(e.coverage)},"wear":${e.wear},"intensity":${e.intensity === null ? "null" : `"${e.intensity}"`},"steps":${num(e.steps)},"cadence_spm":${num(e.cadence)}}`;

/** The quotes of an epoch's JSON other than its device id's and its intensity's: its twelve names'. */
const NAME_QUOTES = 24;

/** A device id as the epochs write it: its JSON, and the quotes in that. */
interface DeviceJson {
  readonly json: string;
  readonly quotes: number;
}

const deviceJsonOf = (id: string): DeviceJson => {
  const json = JSON.stringify(id);
  let quotes = 0;
  for (let i = json.indexOf('"'); i !== -1; i = json.indexOf('"', i + 1)) quotes++;
  return { json, quotes };
};

/**
 * The body's bytes, written a piece of text at a time (UTF-8) into a buffer
 * that grows. A week's page is some 2.4 MB: as one string (grown epoch by
 * epoch, then made the response's body) it cost more than writing it — the
 * body's conversion of the string (flattening it, checking it is
 * well-formed, encoding it) and the collection of its garbage. Here the
 * epochs' text goes out in pieces of `PIECE` epochs, small strings written
 * and dropped at once.
 */
class Body {
  // `allocUnsafe` gives a Buffer over an ArrayBuffer (never a shared one): typed so, `written` needs no cast.
  private bytes: Buffer<ArrayBuffer>;
  private at = 0;
  constructor(capacity: number) {
    this.bytes = Buffer.allocUnsafe(Math.max(capacity, 1024));
  }
  write(s: string): void {
    // UTF-8 is at most three bytes per UTF-16 unit.
    if (this.at + s.length * 3 > this.bytes.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.at + s.length * 3, this.bytes.length * 2));
      this.bytes.copy(grown, 0, 0, this.at);
      this.bytes = grown;
    }
    this.at += this.bytes.write(s, this.at, "utf8");
  }
  /** What has been written (a view of the buffer, not a copy). */
  written(): Uint8Array<ArrayBuffer> {
    return new Uint8Array(this.bytes.buffer, this.bytes.byteOffset, this.at);
  }
}

/** Epochs whose text is joined before it is written: a piece of some 15 KB. */
const PIECE = 64;

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
  const body = new Body(
    head.length * 3 + 2048 + Math.min(epochs.length * 256, (budget?.maxBytes ?? 1e9) + 4096),
  );
  body.write(head);
  const devices = new Map<string, DeviceJson>();
  let bytes = 0;
  let count = 0;
  let next = page.next_cursor;
  let piece = "";
  for (const e of epochs) {
    let device = devices.get(e.deviceId);
    if (device === undefined) {
      device = deviceJsonOf(e.deviceId);
      devices.set(e.deviceId, device);
    }
    const json = epochJson(e, device.json);
    if (budget) {
      bytes +=
        json.length +
        NAME_QUOTES +
        device.quotes +
        (e.intensity === null ? 0 : 2) +
        (count > 0 ? 1 : 0);
      if (count > 0 && bytes > budget.maxBytes) {
        next = budget.cursorAfter(epochs[count - 1] as ActivityEpoch);
        break;
      }
    }
    piece += count === 0 ? json : `,${json}`;
    count++;
    if (count % PIECE === 0) {
      body.write(piece);
      piece = "";
    }
  }
  body.write(piece);
  body.write(envelopeOf(page, count, next)[1]);
  return body.written();
};
