/** Test utilities other packages' tests use: the store contract suites, running a command. */
export * from "./command.js";
export * from "./event-store-contract.js";
export * from "./sensor-store-contract.js";
