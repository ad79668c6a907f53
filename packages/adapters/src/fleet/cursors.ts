import { AlertId, DeviceId, EpochMillis, InvalidCursor } from "@medusa/domain";
import { Either, Schema } from "effect";

// The fleet's cursors, whatever holds the rows: the DynamoDB stores and their
// in-memory twins share them, so a cursor names the last row given, never a
// store's internals, and anything else is an `InvalidCursor`.

const StatusCursor = Schema.parseJson(Schema.Struct({ d: DeviceId }));
const AlertCursor = Schema.parseJson(Schema.Struct({ t: EpochMillis, id: AlertId }));

const refused = () => new InvalidCursor({ reason: "cursor is not one this store returned" });

const encode = (json: string) => Buffer.from(json).toString("base64url");
const decode = <A>(schema: Schema.Schema<A, string>, cursor: string) =>
  Either.mapLeft(
    Schema.decodeUnknownEither(schema)(Buffer.from(cursor, "base64url").toString("utf8")),
    refused,
  );

/** After the status of this device. */
export const encodeStatusCursor = (deviceId: DeviceId): string =>
  encode(Schema.encodeSync(StatusCursor)({ d: deviceId }));
export const decodeStatusCursor = (cursor: string): Either.Either<DeviceId, InvalidCursor> =>
  Either.map(decode(StatusCursor, cursor), (c) => c.d);

/** After this alert (raised at `t`), in newest-raised-first order. */
export const encodeAlertCursor = (raisedAt: EpochMillis, alertId: AlertId): string =>
  encode(Schema.encodeSync(AlertCursor)({ t: raisedAt, id: alertId }));
export const decodeAlertCursor = (
  cursor: string,
): Either.Either<{ readonly t: EpochMillis; readonly id: AlertId }, InvalidCursor> =>
  decode(AlertCursor, cursor);
