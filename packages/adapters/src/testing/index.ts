/** Test utilities other packages' tests use: the store contract suites. */
export * from "./event-store-contract.js";
export * from "./sensor-store-contract.js";
