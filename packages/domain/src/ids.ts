import { Schema } from "effect";

/**
 * The AWS IoT thing name, which is also the MQTT client id and the topic
 * segment. The character set excludes `/`, `+` and `#`, so a device id can
 * never add topic levels or wildcards.
 */
export const DeviceId = Schema.String.pipe(
  Schema.pattern(/^[a-zA-Z0-9:_-]{1,128}$/, {
    message: () => "a device id is 1-128 characters of [a-zA-Z0-9:_-] (AWS IoT thing name)",
  }),
  Schema.brand("DeviceId"),
);
export type DeviceId = typeof DeviceId.Type;

/** The clinic's patient identifier, opaque to us. */
export const PatientId = Schema.String.pipe(
  Schema.trimmed({ message: () => "a patient id has no leading or trailing spaces" }),
  Schema.minLength(1, { message: () => "a patient id is not empty" }),
  Schema.maxLength(256, { message: () => "a patient id is at most 256 characters" }),
  Schema.filter((s) => s !== "UNASSIGNED", {
    message: () => "UNASSIGNED is reserved for samples that belong to no patient",
  }),
  Schema.brand("PatientId"),
);
export type PatientId = typeof PatientId.Type;

/** The clinician who acts, identified by e-mail (from the auth token, never a request body). */
export const Actor = Schema.String.pipe(
  Schema.pattern(/^[^\s@]+@[^\s@]+$/, { message: () => "an actor is an e-mail address" }),
  Schema.maxLength(320),
  Schema.brand("Actor"),
);
export type Actor = typeof Actor.Type;

/**
 * Unix epoch milliseconds, UTC. Every time in the domain, on the wire and in
 * storage is in milliseconds: mixing in seconds breaks interval lookups.
 */
export const EpochMillis = Schema.Number.pipe(
  Schema.int({ message: () => "a time is an integer number of epoch milliseconds" }),
  Schema.nonNegative({ message: () => "a time is not before 1970" }),
  Schema.lessThanOrEqualTo(8_640_000_000_000_000, { message: () => "a time is a valid date" }),
  Schema.brand("EpochMillis"),
);
export type EpochMillis = typeof EpochMillis.Type;

/** Identifies one command, so that retrying it is a no-op. */
export const CommandId = Schema.String.pipe(
  Schema.minLength(1, { message: () => "a command id is not empty" }),
  Schema.maxLength(200, { message: () => "a command id is at most 200 characters" }),
  Schema.brand("CommandId"),
);
export type CommandId = typeof CommandId.Type;

export const PatientName = Schema.String.pipe(Schema.maxLength(500));

export const Notes = Schema.String.pipe(Schema.maxLength(2000));

/**
 * Constructors for trusted values (tests, fixtures, values already decoded
 * elsewhere). They throw on invalid input; decode untrusted input with the
 * schemas instead.
 */
export const deviceId = (s: string): DeviceId => Schema.decodeSync(DeviceId)(s);
export const patientId = (s: string): PatientId => Schema.decodeSync(PatientId)(s);
export const actor = (s: string): Actor => Schema.decodeSync(Actor)(s);
export const epochMillis = (n: number): EpochMillis => Schema.decodeSync(EpochMillis)(n);
export const commandId = (s: string): CommandId => Schema.decodeSync(CommandId)(s);
