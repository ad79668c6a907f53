import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import type { StoredSegment } from "@medusa/domain";
import { Either } from "effect";
import { segmentFromItem } from "./sensor-item.js";

/**
 * An item image as a DynamoDB stream record carries it in a Lambda event:
 * the JSON of the Streams API, where binary values (`B`, `BS`) are base64
 * strings and numbers are strings. (An SDK-shaped image, binary as bytes, is
 * read too.)
 */
export type StreamImage = Readonly<Record<string, unknown>>;

const isRecord = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u);

const bytesOf = (u: unknown, path: string): Either.Either<Uint8Array, string> => {
  if (u instanceof Uint8Array) return Either.right(u);
  if (typeof u !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(u) || u.length % 4 !== 0)
    return Either.left(`${path}: B is not base64`);
  return Either.right(new Uint8Array(Buffer.from(u, "base64")));
};

const isStrings = (u: unknown): u is Array<string> =>
  Array.isArray(u) && u.every((s) => typeof s === "string");

const strings = (u: unknown, path: string): Either.Either<Array<string>, string> =>
  isStrings(u) ? Either.right(u) : Either.left(`${path}: not a list of strings`);

/** One stream attribute value as the SDK's `AttributeValue`, or where it is malformed. */
const attributeValue = (u: unknown, path: string): Either.Either<AttributeValue, string> => {
  if (!isRecord(u)) return Either.left(`${path}: not an attribute value`);
  const entries = Object.entries(u);
  const [entry] = entries;
  if (!entry || entries.length !== 1)
    return Either.left(`${path}: an attribute value has exactly one type`);
  const [type, v] = entry;
  switch (type) {
    case "S":
      return typeof v === "string"
        ? Either.right({ S: v })
        : Either.left(`${path}: S not a string`);
    case "N":
      return typeof v === "string" && v.trim() !== "" && Number.isFinite(Number(v))
        ? Either.right({ N: v })
        : Either.left(`${path}: N not a number`);
    case "BOOL":
      return typeof v === "boolean"
        ? Either.right({ BOOL: v })
        : Either.left(`${path}: BOOL not a boolean`);
    case "NULL":
      return v === true ? Either.right({ NULL: true }) : Either.left(`${path}: NULL not true`);
    case "B":
      return Either.map(bytesOf(v, path), (B) => ({ B }));
    case "SS":
      return Either.map(strings(v, path), (SS) => ({ SS }));
    case "NS":
      return Either.map(strings(v, path), (NS) => ({ NS }));
    case "BS":
      return Array.isArray(v)
        ? Either.map(
            Either.all(v.map((b, i) => bytesOf(b, `${path}[${i}]`))),
            (BS): AttributeValue.BSMember => ({ BS }),
          )
        : Either.left(`${path}: BS not a list`);
    case "L":
      return Array.isArray(v)
        ? Either.map(
            Either.all(v.map((x, i) => attributeValue(x, `${path}[${i}]`))),
            (L): AttributeValue.LMember => ({ L }),
          )
        : Either.left(`${path}: L not a list`);
    case "M":
      return Either.map(streamImageItem(v, path), (M): AttributeValue.MMember => ({ M }));
    default:
      return Either.left(`${path}: unknown attribute type ${type}`);
  }
};

/** A stream record's image (or `Keys`) as the SDK's item, or why it cannot be read. */
export const streamImageItem = (
  image: unknown,
  path = "image",
): Either.Either<Record<string, AttributeValue>, string> => {
  if (!isRecord(image)) return Either.left(`${path}: not an item image`);
  return Either.map(
    Either.all(
      Object.entries(image).map(([name, v]) =>
        Either.map(attributeValue(v, `${path}.${name}`), (a) => [name, a] as const),
      ),
    ),
    (entries) => Object.fromEntries(entries),
  );
};

/** A sensor-table stream image back to its stored segment (the same schema as a read). */
export const segmentFromStreamImage = (image: unknown): Either.Either<StoredSegment, string> =>
  Either.flatMap(streamImageItem(image), segmentFromItem);
