import type { AttributeValue } from "@aws-sdk/client-dynamodb";

const utf8 = (s: string) => new TextEncoder().encode(s).length;

/** A number's size: 1 byte per two significant digits, plus 1 (leading and trailing zeroes trimmed). */
const numberSize = (n: string): number => {
  const digits = n.replace(/^-/, "").replace(/e.*$/i, "").replace(".", "").replace(/^0+/, "");
  const significant = digits.replace(/0+$/, "").length || 1;
  return Math.ceil(significant / 2) + 1;
};

const valueSize = (v: AttributeValue): number => {
  if (v.S !== undefined) return utf8(v.S);
  if (v.N !== undefined) return numberSize(v.N);
  if (v.B !== undefined) return v.B.length;
  if (v.BOOL !== undefined || v.NULL !== undefined) return 1;
  if (v.SS !== undefined) return v.SS.reduce((n, s) => n + utf8(s), 0);
  if (v.NS !== undefined) return v.NS.reduce((n, s) => n + numberSize(s), 0);
  if (v.BS !== undefined) return v.BS.reduce((n, b) => n + b.length, 0);
  if (v.L !== undefined) return 3 + v.L.reduce((n, e) => n + valueSize(e) + 1, 0);
  if (v.M !== undefined)
    return 3 + Object.entries(v.M).reduce((n, [k, e]) => n + utf8(k) + valueSize(e) + 1, 0);
  return 0;
};

/**
 * An item's size as DynamoDB counts it for capacity units: the UTF-8 bytes of
 * each attribute name plus its value (strings in UTF-8, binary raw, numbers 1
 * byte per two significant digits plus 1). A write unit covers 1 KB, an
 * eventually consistent read half a unit per 4 KB.
 * (docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html)
 */
export const itemSize = (item: Readonly<Record<string, AttributeValue>>): number =>
  Object.entries(item).reduce((n, [name, v]) => n + utf8(name) + valueSize(v), 0);

/** What DynamoDB adds to every item, and every index entry, for storage billing. */
export const STORAGE_OVERHEAD_BYTES = 100;

/** The entry an item makes in an index: the table's and the index's keys and the projected attributes. */
export const indexEntry = (
  item: Readonly<Record<string, AttributeValue>>,
  keys: ReadonlyArray<string>,
  projected: ReadonlyArray<string>,
): Record<string, AttributeValue> =>
  Object.fromEntries(
    Object.entries(item).filter(([name]) => keys.includes(name) || projected.includes(name)),
  );
