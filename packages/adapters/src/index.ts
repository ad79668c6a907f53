/**
 * @medusa/adapters: implementations of the domain's ports (DynamoDB, MQTT,
 * I2C, disk) and their in-memory twins.
 */
export * from "./dynamodb/index.js";
export * from "./memory/index.js";
export * from "./mqtt/index.js";
export * from "./outbox/index.js";
export * from "./segments.js";
export * from "./sensor/index.js";
