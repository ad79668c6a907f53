import type { LocalBroker, startLocalBroker } from "@medusa/adapters/broker";
import { afterAll, beforeAll, expect } from "vitest";
import { startBroker, testFolder } from "./testbed.js";

/**
 * The agent's opponent in a Jobs test file: the local broker with its Jobs
 * emulation (AWS IoT Jobs as the local stack runs it, with the IoT policy's
 * own rights for the Jobs topics: no scripted responder) and certificates for
 * `ids`, started before the file's tests and closed after them. `jobs`: the
 * emulation's options (a throttle, say).
 */
export const jobsEmulation = (
  ids: ReadonlyArray<string>,
  jobs?: Exclude<Parameters<typeof startLocalBroker>[0]["jobs"], undefined>,
) => {
  let folder: Awaited<ReturnType<typeof testFolder>> | undefined;
  let broker: LocalBroker | undefined;
  beforeAll(async () => {
    folder = await testFolder(ids);
    broker = await startBroker(folder.certs, 0, jobs !== undefined ? { jobs } : {});
  });
  afterAll(async () => {
    await broker?.close();
    folder?.remove();
  });
  const started = <A>(value: A | undefined): A => {
    if (value === undefined) throw new Error("the Jobs emulation is not started (beforeAll)");
    return value;
  };
  return {
    get folder() {
      return started(folder);
    },
    get broker() {
      return started(broker);
    },
    /** Creates a job for one thing with this document; it must be accepted. */
    create: async (thing: string, jobId: string, document: unknown) => {
      const created = await started(broker).jobs?.createJob({
        jobId,
        targets: [thing],
        document: JSON.stringify(document),
      });
      expect(created?.ok).toBe(true);
    },
    /** The thing's execution of the job, as the emulation describes it (undefined when none). */
    execution: (thing: string, jobId: string) => {
      const found = started(broker).jobs?.describeJobExecution(jobId, thing);
      return found?.ok ? found.value.execution : undefined;
    },
  };
};
