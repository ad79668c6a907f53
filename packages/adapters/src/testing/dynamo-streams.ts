import { DescribeTableCommand } from "@aws-sdk/client-dynamodb";
import { localCredentials, makeDynamoClient } from "../dynamodb/client.js";

/** A stream record exactly as the Streams API's JSON has it (what Lambda hands a function), plus its source. */
export type StreamRecordJson = Record<string, unknown> & {
  readonly eventName: string;
  readonly eventSourceARN: string;
  readonly dynamodb: Record<string, unknown> & { readonly SequenceNumber: string };
};

/**
 * Reads a table's stream on DynamoDB Local through the Streams API's own
 * JSON protocol (not an SDK client, which would turn the records into SDK
 * types): the records come as Lambda delivers them to a function — images as
 * attribute values, binary as base64 — with `eventSourceARN` added as
 * Lambda's event source mapping adds it. `next()` returns what was written
 * since the last call, every shard in order.
 */
export const dynamoStreamReader = async (endpoint: string, tableName: string) => {
  const client = makeDynamoClient({ endpoint, region: "local", credentials: localCredentials });
  const described = await client.send(new DescribeTableCommand({ TableName: tableName }));
  client.destroy();
  const streamArn = described.Table?.LatestStreamArn;
  if (!streamArn) throw new Error(`${tableName} has no stream`);
  const call = async (operation: string, body: unknown): Promise<Record<string, unknown>> => {
    const res = await fetch(endpoint, {
      method: "POST",
      headers: {
        "content-type": "application/x-amz-json-1.0",
        "x-amz-target": `DynamoDBStreams_20120810.${operation}`,
        // DynamoDB Local reads the key id from the header and checks no signature.
        authorization:
          "AWS4-HMAC-SHA256 Credential=local/20260101/local/dynamodb/aws4_request, SignedHeaders=host, Signature=0",
      },
      body: JSON.stringify(body),
    });
    const json = (await res.json()) as Record<string, unknown>;
    if (!res.ok) throw new Error(`${operation}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  /** Per shard, where the next read starts (null: the shard is closed and read to its end). */
  const iterators = new Map<string, string | null>();
  const next = async (): Promise<Array<StreamRecordJson>> => {
    const description = (await call("DescribeStream", { StreamArn: streamArn }))
      .StreamDescription as { Shards?: Array<{ ShardId: string }> };
    const out: Array<StreamRecordJson> = [];
    for (const { ShardId } of description.Shards ?? []) {
      if (!iterators.has(ShardId)) {
        const it = await call("GetShardIterator", {
          StreamArn: streamArn,
          ShardId,
          ShardIteratorType: "TRIM_HORIZON",
        });
        iterators.set(ShardId, String(it.ShardIterator));
      }
      for (;;) {
        const iterator = iterators.get(ShardId);
        if (!iterator) break;
        const page = await call("GetRecords", { ShardIterator: iterator, Limit: 1000 });
        const records = (page.Records ?? []) as Array<Omit<StreamRecordJson, "eventSourceARN">>;
        for (const r of records) out.push({ ...r, eventSourceARN: streamArn } as StreamRecordJson);
        iterators.set(ShardId, (page.NextShardIterator as string | undefined) ?? null);
        if (records.length === 0) break;
      }
    }
    return out;
  };
  return { streamArn, next };
};
