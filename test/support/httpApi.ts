import type { Server } from "node:http";
import { issueToken } from "../../lib/auth/token.ts";
import { createHttpAdapter, listen } from "../../lib/local/httpAdapter.ts";
import { createTestDatabase, type TestDatabase } from "./database.ts";

export const TEST_JWT_SECRET = "test-secret-test-secret-test-secret";

export interface TestHttpApi {
  baseUrl: string;
  db: TestDatabase;
  /** A token with the given scopes (space-separated) and optional `streams` bound. */
  token(scope: string, streams?: string[]): Promise<string>;
  /** `fetch` against the API with a bearer token (admin unless given) and JSON body. */
  request(
    method: string,
    path: string,
    options?: RequestOptions,
  ): Promise<{ status: number; headers: Headers; body: any }>;
  close(): Promise<void>;
}

export interface RequestOptions {
  body?: unknown;
  rawBody?: string;
  contentType?: string;
  token?: string | null;
}

/**
 * The real HTTP handlers behind the local API Gateway adapter, on a fresh database. The handlers build
 * their runtime from the environment, as on Lambda, so this sets it before their first invocation.
 */
export async function startTestHttpApi(extraEnv: Record<string, string> = {}): Promise<TestHttpApi> {
  const db = await createTestDatabase();
  Object.assign(process.env, { DATABASE_URL: db.url, EVENTBUS_JWT_SECRET: TEST_JWT_SECRET }, extraEnv);
  const { loadLocalHttpRoutes } = await import("../../functions/http/localRoutes.ts");
  const server: Server = createHttpAdapter(await loadLocalHttpRoutes());
  const baseUrl = await listen(server, 0);
  const adminToken = await issueToken(TEST_JWT_SECRET, { scope: "admin" });
  const { getRuntime } = await import("../../functions/shared/runtime.ts");

  return {
    baseUrl,
    db,
    token: (scope, streams) => issueToken(TEST_JWT_SECRET, { scope, ...(streams ? { streams } : {}) }),
    async request(method, path, options = {}) {
      const headers: Record<string, string> = {};
      const token = options.token === undefined ? adminToken : options.token;
      if (token !== null) headers.authorization = `Bearer ${token}`;
      let body: string | undefined = options.rawBody;
      if (options.body !== undefined) body = JSON.stringify(options.body);
      if (body !== undefined) headers["content-type"] = options.contentType ?? "application/json";
      const response = await fetch(`${baseUrl}${path}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body }),
      });
      const text = await response.text();
      return {
        status: response.status,
        headers: response.headers,
        body: text ? JSON.parse(text) : undefined,
      };
    },
    async close() {
      await new Promise((resolve) => server.close(resolve));
      await (await getRuntime()).sql.end({ timeout: 5 });
      await db.close();
    },
  };
}
