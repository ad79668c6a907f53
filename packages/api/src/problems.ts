import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";

export const PROBLEM_BASE = "https://medusa-link.dev/problems/";

/** An RFC 9457 problem document. */
export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail?: string;
  readonly [extension: string]: unknown;
}

export const problem = (
  status: ContentfulStatusCode,
  slug: string,
  title: string,
  extra: Record<string, unknown> = {},
): Problem => ({ type: `${PROBLEM_BASE}${slug}`, title, status, ...extra });

/** Sends a problem as `application/problem+json`. */
export const sendProblem = (c: Context, p: Problem) =>
  c.body(JSON.stringify(p), p.status as ContentfulStatusCode, {
    "content-type": "application/problem+json",
  });

/** An error that is already a problem: thrown inside handlers, rendered by the error handler. */
export class ProblemError extends Error {
  /** `cause`: the typed failure behind a 5xx problem, for the operator's log (never sent). */
  constructor(
    readonly problem: Problem,
    override readonly cause?: unknown,
  ) {
    super(problem.title);
  }
}
