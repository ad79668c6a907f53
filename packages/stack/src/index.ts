/**
 * @medusa/stack: the whole system on one machine, for a newcomer's first run,
 * the end-to-end test and the stack benchmark. It composes the other packages
 * and holds no business rules.
 */

export * from "./cli.js";
export * from "./fleet.js";
export * from "./ingest-rule.js";
export * from "./stack.js";
