import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHttpAdapter, listen } from "../../lib/local/httpAdapter.ts";

// A route that answers with the API Gateway event the adapter built, so the test sees what a handler sees.
const server = createHttpAdapter([
  {
    routeKey: "$default",
    handler: async (event) => ({
      statusCode: 200,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        rawPath: event.rawPath,
        rawQueryString: event.rawQueryString,
        queryStringParameters: event.queryStringParameters ?? null,
        domainName: event.requestContext.domainName,
        body: event.body ?? null,
      }),
    }),
  },
]);
let port = 0;
beforeAll(async () => {
  port = Number(new URL(await listen(server, 0)).port);
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** Sends one request with exactly this request target (no client-side escaping) and reads the answer. */
function send(target: string, body = ""): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let text = "";
    socket.on("data", (chunk) => {
      text += chunk.toString("utf8");
    });
    socket.on("end", () => {
      const [head = "", payload = ""] = text.split("\r\n\r\n");
      resolve({ status: Number(head.split(" ")[1]), json: payload ? JSON.parse(payload) : undefined });
    });
    socket.on("error", reject);
    socket.write(
      `POST ${target} HTTP/1.1\r\nHost: Example.COM:80\r\nconnection: close\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  });
}

describe("the local API Gateway stand-in", () => {
  it.each([
    "/streams/orders-1/events",
    "/streams/orders-1/events?expectedVersion=3",
    "/streams/a.b:c@d_e~f/events?x=1&y=a+b&x=2",
    "/streams/orders-1/events?",
    "/streams/x%2Fy/events?q=%41",
    "/streams/./orders-1/../events",
    "/streams/%2e%2E/events",
    "/streams/a%20b/events?q=a%20b+c",
    "/streams/%C3%A4/events?q=%C3%BC",
    '/streams/a{b}|c^d`e/events?q="<x>"',
    "/streams/a\\b/events",
    "/streams/a/events?q='quoted'",
    "/streams/a/events#fragment",
    "//other.example/path",
  ])("gives handlers the path and query of %s as API Gateway (and URL) would", async (target) => {
    const expected = new URL(target, "http://example.com");
    const query = Object.fromEntries(
      [...new Set(expected.searchParams.keys())].map((name) => [
        name,
        expected.searchParams.getAll(name).join(","),
      ]),
    );
    const res = await send(target);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      rawPath: expected.pathname,
      rawQueryString: expected.search.slice(1),
      queryStringParameters: expected.search ? query : null,
      domainName: "example.com",
      body: null,
    });
  });

  it("passes the body through whole, however it was split on the way", async () => {
    const body = JSON.stringify({ type: "OrderPlaced", data: { text: "x".repeat(200_000) } });
    const res = await send("/streams/orders-1/events", body);
    expect(res.json.body).toBe(body);
  });
});
