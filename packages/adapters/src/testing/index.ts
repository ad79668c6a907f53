/** Test utilities other packages' tests use: the event-store contract suite. */
export * from "./event-store-contract.js";
