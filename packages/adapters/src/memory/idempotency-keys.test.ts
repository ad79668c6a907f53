import { idempotencyKeysContract } from "../testing/idempotency-contract.js";
import { makeInMemoryIdempotencyKeys } from "./idempotency-keys.js";

const store = makeInMemoryIdempotencyKeys();
idempotencyKeysContract("in memory", () => store);
