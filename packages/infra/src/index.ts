/**
 * @medusa/infra: MeDUSA Link on AWS as code — the CDK app (tables, device
 * policy, sensor rule, Lambda functions, HTTP API) and `register-device`.
 * Composes what the other packages export; holds no business rules.
 */
export * from "./access.js";
export * from "./app.js";
export * from "./bundles.js";
export * from "./iot.js";
export * from "./settings.js";
export * from "./stack.js";
export * from "./tables.js";
