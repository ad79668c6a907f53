import type { TestProject } from "vitest/node";
import { type DynamoLocal, startDynamoLocal } from "./dynamo-local.js";

let local: DynamoLocal | undefined;

/** One DynamoDB Local for a whole test run; tests read its endpoint with `inject("dynamoEndpoint")`. */
export default async function setup(project: TestProject) {
  local = await startDynamoLocal();
  project.provide("dynamoEndpoint", local.endpoint);
  return async () => {
    await local?.stop();
  };
}
