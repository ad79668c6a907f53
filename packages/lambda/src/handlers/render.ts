import type { IngestOutcome } from "@medusa/domain";
import { Match } from "effect";

/** The historical ingest function's result shape, with counts. */
export interface IngestResult {
  readonly statusCode: 200 | 400;
  readonly body: string;
}

/**
 * An ingest outcome as the historical function answered: 200 with who the
 * samples went to (one patient, or a list when the message spans a
 * reassignment) and the counts; 400 with the rejection's reason and issues.
 */
export const renderIngestOutcome = (outcome: IngestOutcome): IngestResult =>
  Match.valueTags(outcome, {
    Stored: ({ message, patientIds, segments, written }) => ({
      statusCode: 200 as const,
      body: JSON.stringify({
        device_id: message.deviceId,
        patient_id: patientIds.length === 1 ? patientIds[0] : patientIds,
        status: "stored",
        format: message.format,
        samples: message.samples.length,
        segments,
        written,
      }),
    }),
    Rejected: ({ rejection }) => ({
      statusCode: 400 as const,
      body: JSON.stringify({
        status: "rejected",
        reason: rejection.reason,
        issues: rejection.issues,
      }),
    }),
  });
