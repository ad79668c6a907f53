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

/** A number as JSON writes it (non-finite numbers are null there). */
const num = (n: number): string => (Number.isFinite(n) ? String(n) : "null");

/** An epoch as the view's JSON object, fields in the schema's order. */
const epochJson = (e: ActivityEpoch, device: string): string =>
  `{"time":${num(e.start)},"epoch_ms":${num(e.epochMs)},"device_id":${device},"enmo_mg":${num(e.enmoMg)},"mad_mg":${num(e.madMg)},"samples":${num(e.samples)},"expected_samples":${num(e.expected)},"coverage":${num(e.coverage)},"wear":${e.wear},"intensity":${e.intensity === null ? "null" : `"${e.intensity}"`},"steps":${num(e.steps)},"cadence_spm":${num(e.cadence)}}`;

const encodeEnvelope = Schema.encodeSync(ActivityResponse);

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

/** An epoch's JSON's bytes in Lambda's response: its characters (all ASCII) and an escape per quote. */
const lambdaBytes = (json: string): number => {
  let quotes = 0;
  for (let i = json.indexOf('"'); i !== -1; i = json.indexOf('"', i + 1)) quotes++;
  return json.length + quotes;
};

export interface PageBudget {
  readonly maxBytes: number;
  /** The next page's cursor when the page ends after epoch `e`. */
  readonly cursorAfter: (e: ActivityEpoch) => string;
}

/**
 * The page as JSON text: the envelope through the schema, the epochs written
 * directly. With a budget, the epochs stop before the one that would take
 * them past `maxBytes` as Lambda's response carries them (one at least), and
 * `next_cursor` then follows the last one written.
 */
export const activityPageJson = (
  page: {
    readonly patient_id: string;
    readonly epochs: ReadonlyArray<ActivityEpoch>;
    readonly next_cursor: string | null;
    readonly cut_points: typeof ActivityResponse.Type.cut_points;
    readonly algorithms: Readonly<Record<string, string>>;
  },
  budget?: PageBudget,
): string => {
  const devices = new Map<string, string>();
  // One string grown epoch by epoch (V8 flattens it once, when it is sent): about three
  // times faster than an array of per-epoch strings joined.
  let epochs = "";
  let bytes = 0;
  let count = 0;
  let next = page.next_cursor;
  for (const e of page.epochs) {
    let device = devices.get(e.deviceId);
    if (device === undefined) {
      device = JSON.stringify(e.deviceId);
      devices.set(e.deviceId, device);
    }
    const json = epochJson(e, device);
    if (budget) {
      bytes += lambdaBytes(json) + (count > 0 ? 1 : 0);
      if (count > 0 && bytes > budget.maxBytes) {
        next = budget.cursorAfter(page.epochs[count - 1] as ActivityEpoch);
        break;
      }
    }
    epochs += count === 0 ? json : `,${json}`;
    count++;
  }
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
  const marker = '"epochs":[]';
  const at = envelope.indexOf(marker);
  return `${envelope.slice(0, at)}"epochs":[${epochs}]${envelope.slice(at + marker.length)}`;
};
