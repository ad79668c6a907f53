import { Schema } from "effect";

/**
 * Where an imported event came from: the historical table and the key of its
 * row, the row exactly as it was read (JSON), and what the operator changed
 * or chose for it (a correction from the corrections file, a `--resolve`
 * rule), so the audit trail shows both the original and the decision.
 */
export const ImportProvenance = Schema.Struct({
  source: Schema.Literal("import"),
  table: Schema.String,
  /** `{device_id}@{assignment_timestamp}` of the historical row. */
  row: Schema.String,
  /** The row as read, as JSON. */
  item: Schema.String,
  /** The correction applied to the row, as JSON. */
  correction: Schema.optionalWith(Schema.String, { exact: true }),
  /** The `--resolve` rules that decided this event (e.g. `overlap=end-at-next`). */
  resolutions: Schema.optionalWith(Schema.Array(Schema.String), { exact: true }),
});
export type ImportProvenance = typeof ImportProvenance.Type;
