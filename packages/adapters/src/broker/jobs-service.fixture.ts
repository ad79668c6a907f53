import { type CreateJobInput, JobsService, type JobsServiceOptions } from "./jobs-service.js";

/**
 * Test set-up for the emulated Jobs service over its request handler, shared
 * by its tests: services with a clock the test moves, what they publish, and
 * a job factory. Runner-free: each test file closes `services` after each test.
 */

/** The clock's start (epoch ms). */
export const T0 = 1_800_000_000_000;

export const jobsServiceHarness = () => {
  const services: Array<JobsService> = [];
  const make = (options: Partial<JobsServiceOptions> = {}) => {
    const clock = { now: T0 };
    const published: Array<{ topic: string; body: Record<string, unknown> }> = [];
    const service = new JobsService({
      publish: (topic, payload) => published.push({ topic, body: JSON.parse(payload) }),
      now: () => clock.now,
      ...options,
    });
    services.push(service);
    /** A device's request (JSON text as given, anything else as JSON); what it published in answer. */
    const send = async (topic: string, payload: unknown) => {
      published.length = 0;
      const handled = service.handleRequest(
        topic,
        typeof payload === "string" ? payload : JSON.stringify(payload),
      );
      await service.settled();
      return { handled, published: [...published] };
    };
    const on = (topic: string) => published.filter((p) => p.topic === topic).map((p) => p.body);
    return { service, clock, published, send, on };
  };
  return { services, make };
};

/** CreateJob's input for an `agent.restart` job. */
export const job = (
  jobId: string,
  targets: ReadonlyArray<string> = ["pi-1"],
  extra: Partial<CreateJobInput> = {},
): CreateJobInput => ({
  jobId,
  targets,
  document: JSON.stringify({ operation: "agent.restart" }),
  ...extra,
});

/** The job created, or the refusal thrown. */
export const created = async (service: JobsService, input: CreateJobInput) => {
  const r = await service.createJob(input);
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
};
