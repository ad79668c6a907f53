import { Either, Schema } from "effect";
import { DeviceId } from "../ids.js";
import { InvalidCursor } from "../ports/sensor-store.js";
import type { ActivityEpoch } from "./epochs.js";

/** Where an activity page ended: its last epoch's start and device. */
export interface ActivityCursor {
  readonly t: number;
  readonly d: DeviceId;
}

const decodeDevice = Schema.decodeUnknownEither(DeviceId);

export const encodeActivityCursor = (last: Pick<ActivityEpoch, "start" | "deviceId">): string =>
  `${last.start}~${last.deviceId}`;

export const decodeActivityCursor = (raw: string): Either.Either<ActivityCursor, InvalidCursor> => {
  const at = raw.indexOf("~");
  const t = Number(raw.slice(0, at));
  const d = decodeDevice(raw.slice(at + 1));
  return at > 0 && Number.isSafeInteger(t) && Either.isRight(d)
    ? Either.right({ t, d: d.right })
    : Either.left(new InvalidCursor({ reason: "not an activity cursor" }));
};

/** Whether an epoch comes after the cursor in reading order (start, then device). */
export const afterCursor = (e: Pick<ActivityEpoch, "start" | "deviceId">, c: ActivityCursor) =>
  e.start > c.t || (e.start === c.t && e.deviceId > c.d);
