// What the DynamoDB Local global setup (packages/adapters/src/testing/vitest-global-setup.ts)
// provides to every test of a run: `inject("dynamoEndpoint")`.
import "vitest";

declare module "vitest" {
  export interface ProvidedContext {
    dynamoEndpoint: string;
  }
}
