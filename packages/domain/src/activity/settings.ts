import { Schema } from "effect";

/**
 * A block: 15 minutes, aligned to UTC (a multiple of 15 minutes since the
 * Unix epoch). GGIR's "medium" window, the unit its non-wear rule flags, and
 * the unit activity is stored in: one row per patient, device and block.
 * Every time zone's midnight is a block boundary (all offsets in use are
 * whole quarter hours).
 */
export const BLOCK_MS = 15 * 60_000;

/**
 * How far beyond its block a block's metrics look: the step detector decides
 * a peak with the candidates up to three steps (at most 2 s each) on either
 * side, each found in a lobe of at most 1.5 s, over a trend of ±1 s. A
 * block's metrics are defined from the samples in `[start − CONTEXT_MS, end +
 * CONTEXT_MS)`, so re-attribution recomputes the blocks within this much of
 * what it moved.
 */
export const CONTEXT_MS = 12_000;

/** Epoch lengths a study may choose: whole seconds from 5 to 60 that divide a minute. */
export const EPOCH_LENGTHS_MS: ReadonlyArray<number> = [
  5_000, 6_000, 10_000, 12_000, 15_000, 20_000, 30_000, 60_000,
];
export const DEFAULT_EPOCH_MS = 60_000;

export const EpochLength = Schema.Number.pipe(
  Schema.filter((ms) => EPOCH_LENGTHS_MS.includes(ms), {
    message: () =>
      `epoch_ms must be one of ${EPOCH_LENGTHS_MS.join(", ")} (whole seconds from 5 to 60 that divide a minute)`,
  }),
  Schema.brand("EpochLength"),
);
export type EpochLength = typeof EpochLength.Type;
export const epochLength = (ms: number): EpochLength => Schema.decodeSync(EpochLength)(ms);

/** Sampling interval assumed where a block holds too few samples to tell its own: the agent's 10 Hz. */
export const NOMINAL_INTERVAL_MS = 100;

/** ENMO thresholds of the intensity classes, in mg: at or above `light` is light, and so on. */
export const CutPoints = Schema.Struct({
  light: Schema.Number.pipe(Schema.positive()),
  moderate: Schema.Number.pipe(Schema.positive()),
  vigorous: Schema.Number.pipe(Schema.positive()),
}).pipe(
  Schema.filter((c) => (c.light < c.moderate && c.moderate < c.vigorous) || "cut-points must rise"),
);
export type CutPoints = typeof CutPoints.Type;

/**
 * Hildebrand et al. 2014 (Med Sci Sports Exerc 46(9):1816–24; GGIR's
 * defaults), adults 21–61 years, ENMO of a monitor on the **non-dominant
 * wrist**: light from 44.8 mg, moderate from 100.6 mg, vigorous from 428.8 mg.
 */
export const WRIST_CUT_POINTS: CutPoints = { light: 44.8, moderate: 100.6, vigorous: 428.8 };
/** The same study, monitor on the **hip**: 47.4, 69.1, 258.7 mg. */
export const HIP_CUT_POINTS: CutPoints = { light: 47.4, moderate: 69.1, vigorous: 258.7 };

/** The cut-point sets a study or a reader may choose, by name (`wrist` unless chosen). */
export const CutPointSetName = Schema.Literal("wrist", "hip").annotations({
  description:
    "intensity cut-points: wrist (Hildebrand et al. 2014, non-dominant wrist, adults; the default) or hip (the same study, monitor on the hip)",
});
export type CutPointSetName = typeof CutPointSetName.Type;

/** A named set of cut-points, with where its thresholds come from and the wear position they were derived for. */
export interface CutPointSet {
  readonly name: CutPointSetName;
  readonly cutPoints: CutPoints;
  readonly source: string;
  readonly position: string;
}

const HILDEBRAND_2014 =
  "Hildebrand et al. 2014, Age group comparability of raw accelerometer output from wrist- and hip-worn monitors, Med Sci Sports Exerc 46(9):1816-24 (adults 21-61 years)";

export const CUT_POINT_SETS: Readonly<Record<CutPointSetName, CutPointSet>> = {
  wrist: {
    name: "wrist",
    cutPoints: WRIST_CUT_POINTS,
    source: HILDEBRAND_2014,
    position: "non-dominant wrist",
  },
  hip: { name: "hip", cutPoints: HIP_CUT_POINTS, source: HILDEBRAND_2014, position: "hip" },
};
export const DEFAULT_CUT_POINT_SET: CutPointSetName = "wrist";

/**
 * The versions of the algorithms, named in every CSV download. A change that
 * can change a stored figure gets a new version (and stored blocks are
 * recomputed by the next refresh of their device).
 */
export const ACTIVITY_ALGORITHMS = {
  enmo: "enmo-1 (van Hees 2013; magnitude rounded to 1 µg)",
  mad: "mad-1 (Vähä-Ypyä 2015)",
  nonWear:
    "ggir-nonwear-2023-1 (60 min windows every 15 min; SD < 13 mg and range < 50 mg on ≥ 2 axes)",
  steps: "medusa-steps-1 (peaks of the magnitude, 4 regular steps make a bout)",
  coverage: "coverage-1 (median sampling interval per block)",
} as const;
