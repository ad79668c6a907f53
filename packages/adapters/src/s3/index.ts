/**
 * S3 as far as the local stack needs it: presigned GETs (Signature Version 4
 * in the query string) of objects in buckets kept as folders, served over TLS
 * on 127.0.0.1 — the agent-bundle bucket that AWS IoT Jobs presigns URLs into.
 */
export * from "./bucket-server.js";
export * from "./presign.js";
