import type { AssignmentEvent } from "./assignment.js";
import {
  attribute,
  type DeviceIntervals,
  type SegmentKey,
  type StoredSegment,
} from "./attribution.js";
import type { EnrichOptions } from "./enrichment.js";

/**
 * From when a commit can change who wore the device: the earliest effective
 * time any of its events changes. Samples taken before it keep their owner.
 */
export const changedFrom = (events: ReadonlyArray<AssignmentEvent>): number => {
  let from = Number.POSITIVE_INFINITY;
  for (const e of events) from = Math.min(from, effectiveFrom(e));
  return from;
};

/**
 * The earliest time whose owner one event can change. An ordinary event
 * changes the record from its own time on; a retraction or a patient
 * correction, from the assignment's start; an amended period, from the
 * earlier of the boundaries it moves (the old start or the new one; for an
 * amended end, the old end or the new one).
 */
export const effectiveFrom = (e: AssignmentEvent): number => {
  switch (e._tag) {
    case "DeviceAssigned":
    case "AssignmentEnded":
      return e.at;
    case "AssignmentRetracted":
    case "AssignmentPatientCorrected":
      return e.assignment.start;
    case "AssignmentPeriodAmended":
      return e.start !== e.assignment.start
        ? Math.min(e.start, e.assignment.start)
        : Math.min(e.end ?? Number.POSITIVE_INFINITY, e.assignment.end ?? Number.POSITIVE_INFINITY);
    default:
      return unknownEvent(e);
  }
};

const unknownEvent = (e: never): number => {
  throw new Error(`unknown event ${JSON.stringify(e)}`);
};

export interface ReattributionOptions extends EnrichOptions {
  /** Only items attributed with a stream version older than this (the second pass). */
  readonly onlyOlderThan?: number;
}

/** What re-attribution writes: the items to delete, the items to write, and what it looked at. */
export interface ReattributionPlan {
  /** Keys of items whose samples are written again (perhaps split, perhaps under the same key). */
  readonly remove: ReadonlyArray<SegmentKey>;
  readonly add: ReadonlyArray<StoredSegment>;
  /** Items considered (after `onlyOlderThan`). */
  readonly examined: number;
  /** Items considered that already say what `current` says. */
  readonly unchanged: number;
}

/**
 * Which stored items must be written again so that every sample belongs to
 * the assignment that `current` says covered it: an item whose samples now
 * belong to another assignment (or to several) is replaced by its pieces,
 * attributed with `current.version`. An item already attributed by the
 * current version, or whose samples all keep their owner, stays as it is.
 */
export const reattributionPlan = (
  items: ReadonlyArray<StoredSegment>,
  current: DeviceIntervals,
  options: ReattributionOptions = {},
): ReattributionPlan => {
  const { onlyOlderThan } = options;
  const considered =
    onlyOlderThan === undefined ? items : items.filter((s) => s.attributedVersion < onlyOlderThan);
  const remove: Array<SegmentKey> = [];
  const add: Array<StoredSegment> = [];
  let unchanged = 0;
  for (const item of considered) {
    const pieces = attribute(item.deviceId, item.samples, current, options);
    const [only] = pieces;
    if (
      pieces.length === 1 &&
      only !== undefined &&
      only.patientId === item.patientId &&
      only.assignmentStart === item.assignmentStart &&
      item.attributedVersion >= current.version
    ) {
      unchanged++;
      continue;
    }
    remove.push(item.key);
    add.push(...pieces);
  }
  return { remove, add, examined: considered.length, unchanged };
};
