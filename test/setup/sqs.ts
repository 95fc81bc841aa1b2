import type { TestProject } from "vitest/node";
import { startSqsServer } from "../../lib/local/sqsServer.ts";

declare module "vitest" {
  export interface ProvidedContext {
    /** The SQS stand-in's endpoint for this run, or `AWS_ENDPOINT_URL` when set. */
    sqsEndpoint: string;
  }
}

/** One SQS stand-in (fauxqs) for the whole run, unless an external endpoint is given. */
export default async function setup(project: TestProject) {
  const external = process.env.AWS_ENDPOINT_URL;
  const sqs = external ? { endpoint: external, stop: async () => {} } : await startSqsServer({ port: 0 });
  project.provide("sqsEndpoint", sqs.endpoint);
  return () => sqs.stop();
}
