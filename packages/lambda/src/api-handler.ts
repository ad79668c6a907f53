import {
  connectIotDataShadows,
  connectIotDeviceJobs,
  dynamoLayer,
  systemClock,
} from "@medusa/adapters";
import {
  apiConfigFromEnv,
  createApp,
  jwtAuth,
  jwtOptions,
  loadSecrets,
  withCursorKey,
} from "@medusa/api";
import { Layer } from "effect";
import { handle } from "hono/aws-lambda";

// Wired once per container: the secrets read from Secrets Manager first, at cold start.
const config = apiConfigFromEnv(await loadSecrets(process.env));
// Devices' shadows over AWS IoT's data plane (the stack sets the account's iot:Data-ATS endpoint).
const iotData = process.env.MEDUSA_IOT_DATA_ENDPOINT;
// Jobs through AWS IoT's control plane: agent bundles in the stack's bucket, presigned by its role.
const bundleBucket = process.env.MEDUSA_AGENT_BUNDLE_BUCKET;
const presignRoleArn = process.env.MEDUSA_JOBS_PRESIGN_ROLE_ARN;
const app = createApp({
  layer: Layer.merge(dynamoLayer(config), systemClock),
  authenticate: jwtAuth(jwtOptions(config)),
  ...withCursorKey(config),
  ...(iotData
    ? {
        shadows: connectIotDataShadows({ endpoint: iotData, region: process.env.AWS_REGION ?? "" })
          .shadows,
      }
    : {}),
  ...(bundleBucket && presignRoleArn
    ? {
        jobs: connectIotDeviceJobs({
          region: process.env.AWS_REGION ?? "",
          bundleBucket,
          presignRoleArn,
          ...(process.env.MEDUSA_JOB_ID_PREFIX
            ? { jobIdPrefix: process.env.MEDUSA_JOB_ID_PREFIX }
            : {}),
          ...(process.env.MEDUSA_ROTATION_TEMPLATE
            ? { rotationTemplate: process.env.MEDUSA_ROTATION_TEMPLATE }
            : {}),
        }).jobs,
      }
    : {}),
});

/** The API behind API Gateway (HTTP API, payload 2.0) or a Lambda function URL. */
export const handler = handle(app);
