/** A JSON value, as a shadow stores it. */
export type Json = null | boolean | number | string | ReadonlyArray<Json> | JsonObject;
export interface JsonObject {
  readonly [key: string]: Json;
}

const isJsonArray = (value: ReadonlyArray<Json> | JsonObject): value is ReadonlyArray<Json> =>
  Array.isArray(value);

export const isObject = (value: unknown): value is JsonObject =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * An own, enumerable property, whatever its name: `o[key] = v` with the key
 * `__proto__` (which `JSON.parse` yields as an ordinary key) would set the
 * object's prototype instead.
 */
export const put = (target: Record<string, unknown>, key: string, value: unknown): void => {
  Object.defineProperty(target, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
};

export const has = (o: JsonObject, key: string): boolean => Object.hasOwn(o, key);

/** The value at `key`, own properties only (`constructor` of a plain object is not a key). */
export const at = (o: JsonObject | undefined, key: string): Json | undefined =>
  o !== undefined && Object.hasOwn(o, key) ? o[key] : undefined;

/** Structural equality of JSON values (numbers by value, so `1` equals `1.0`). */
export const jsonEqual = (a: Json | undefined, b: Json | undefined): boolean => {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => jsonEqual(x, b[i]));
  }
  const oa = a as JsonObject;
  const ob = b as JsonObject;
  const ka = Object.keys(oa);
  if (ka.length !== Object.keys(ob).length) return false;
  return ka.every((k) => Object.hasOwn(ob, k) && jsonEqual(oa[k], ob[k]));
};

export const byteLength = (text: string): number => Buffer.byteLength(text, "utf8");

/**
 * Whether arrays and objects nest deeper than `max` levels below `value`
 * (itself level 1); empty ones do not count. Iterative: a hostile document
 * cannot overflow the stack.
 */
export const deeperThan = (value: Json | undefined, max: number): boolean => {
  if (typeof value !== "object" || value === null) return false;
  const stack: Array<readonly [ReadonlyArray<Json> | JsonObject, number]> = [[value, 1]];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const [node, depth] = next;
    const children: ReadonlyArray<Json> = isJsonArray(node) ? node : Object.values(node);
    if (children.length === 0) continue;
    if (depth > max) return true;
    for (const child of children)
      if (typeof child === "object" && child !== null) stack.push([child, depth + 1]);
  }
  return false;
};
