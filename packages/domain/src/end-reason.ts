import { Schema } from "effect";

/** Why an assignment ended. */
export const EndReason = Schema.Literal("completed", "device_returned");
export type EndReason = typeof EndReason.Type;
