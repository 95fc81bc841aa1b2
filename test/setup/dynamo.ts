import type { TestProject } from "vitest/node";
import { startDynamoServer } from "../../lib/local/dynamoServer.ts";

declare module "vitest" {
  export interface ProvidedContext {
    /** The DynamoDB stand-in's endpoint for this run, or `AWS_ENDPOINT_URL` when set. */
    dynamoEndpoint: string;
  }
}

/** One DynamoDB stand-in (dynalite, in memory) for the whole run; each test file uses its own table. */
export default async function setup(project: TestProject) {
  const external = process.env.AWS_ENDPOINT_URL;
  const dynamo = external
    ? { endpoint: external, stop: async () => {} }
    : await startDynamoServer({ port: 0 });
  project.provide("dynamoEndpoint", dynamo.endpoint);
  return () => dynamo.stop();
}
