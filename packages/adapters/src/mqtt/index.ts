export * from "./acl.js";
export * from "./transport.js";
