import { Schema } from "effect";
import type { DeviceId } from "../ids.js";
import type { BlockMetrics, EpochMetrics } from "./block.js";
import type { CutPoints } from "./settings.js";

export const IntensityClass = Schema.Literal("sedentary", "light", "moderate", "vigorous");
export type IntensityClass = typeof IntensityClass.Type;
export const INTENSITY_CLASSES: ReadonlyArray<IntensityClass> = IntensityClass.literals;

/** The intensity class of an epoch's mean ENMO (mg): below `light` sedentary, and so on. */
export const intensityOf = (enmoMg: number, cut: CutPoints): IntensityClass =>
  enmoMg < cut.light
    ? "sedentary"
    : enmoMg < cut.moderate
      ? "light"
      : enmoMg < cut.vigorous
        ? "moderate"
        : "vigorous";

/** An epoch as a patient's activity shows it. */
export interface ActivityEpoch {
  readonly start: number;
  readonly epochMs: number;
  readonly deviceId: DeviceId;
  readonly samples: number;
  readonly expected: number;
  /** Samples present / expected, at most 1. */
  readonly coverage: number;
  /** Mean ENMO, mg. */
  readonly enmoMg: number;
  /** MAD, mg. */
  readonly madMg: number;
  readonly steps: number;
  /** Steps per minute over the epoch. */
  readonly cadence: number;
  /** Worn: not in a non-wear block. */
  readonly wear: boolean;
  /** From ENMO with the cut-points; null while not worn. */
  readonly intensity: IntensityClass | null;
}

export const enmoMgOf = (e: EpochMetrics): number => e.enmo / e.samples / 1000;

/** An epoch's figures as read: the sums made means, the class from the cut-points. */
export const activityEpoch = (
  deviceId: DeviceId,
  block: Pick<BlockMetrics, "start" | "epochMs">,
  e: EpochMetrics,
  nonWear: boolean,
  cut: CutPoints,
): ActivityEpoch => {
  const enmoMg = enmoMgOf(e);
  return {
    start: block.start + e.index * block.epochMs,
    epochMs: block.epochMs,
    deviceId,
    samples: e.samples,
    expected: e.expected,
    coverage: Math.min(1, e.samples / e.expected),
    enmoMg,
    madMg: e.mad / 1000,
    steps: e.steps,
    cadence: (e.steps * 60_000) / block.epochMs,
    wear: !nonWear,
    intensity: nonWear ? null : intensityOf(enmoMg, cut),
  };
};

/** Epochs in reading order: by start, then device. */
export const byStartThenDevice = (a: ActivityEpoch, b: ActivityEpoch): number =>
  a.start - b.start || (a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : 0);
