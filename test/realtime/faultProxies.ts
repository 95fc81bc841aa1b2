import { createServer as createHttpServer, request } from "node:http";
import { type AddressInfo, createConnection, createServer, type Socket } from "node:net";

/**
 * A TCP proxy that resets connections while `reset()` says so: the client's socket is destroyed with a
 * TCP RST as soon as it sends a request, as a load balancer or a dying DynamoDB endpoint would.
 */
export async function startResetProxy(target: string, reset: () => boolean) {
  const open = new Set<Socket>();
  const { hostname, port } = new URL(target);
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    sockets.add(client);
    client.on("close", () => sockets.delete(client));
    client.once("data", (first) => {
      if (reset()) {
        client.resetAndDestroy();
        return;
      }
      open.add(client);
      client.on("close", () => open.delete(client));
      const upstream = createConnection({ host: hostname, port: Number(port) });
      upstream.write(first);
      client.pipe(upstream).pipe(client);
      upstream.on("error", () => client.destroy());
      client.on("error", () => upstream.destroy());
    });
    client.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    /** Resets every established connection (the SDK's pooled keep-alive sockets die under it). */
    resetEstablished() {
      for (const socket of open) socket.resetAndDestroy();
    },
    async stop() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/**
 * An HTTP proxy in front of the gateway's `@connections` API that answers with a chosen status instead of
 * forwarding, whenever `fault` returns one (`x-amzn-errortype` as API Gateway sets it).
 */
export async function startHttpFaultProxy(
  target: string,
  fault: (method: string, connectionId: string, body: string) => number | undefined,
) {
  const { hostname, port } = new URL(target);
  const server = createHttpServer(async (req, res) => {
    const connectionId = decodeURIComponent((req.url ?? "").split("/").pop() ?? "");
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const status = fault(req.method ?? "GET", connectionId, body.toString("utf8"));
    if (status !== undefined) {
      const type =
        status === 429
          ? "LimitExceededException"
          : status >= 500
            ? "InternalServerErrorException"
            : "BadRequestException";
      res.writeHead(status, { "content-type": "application/json", "x-amzn-errortype": type });
      res.end(JSON.stringify({ message: type }));
      return;
    }
    const upstream = request(
      { host: hostname, port, method: req.method, path: req.url, headers: req.headers },
      (response) => {
        res.writeHead(response.statusCode ?? 502, response.headers);
        response.pipe(res);
      },
    );
    upstream.on("error", () => res.destroy());
    upstream.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async stop() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/**
 * An HTTP proxy in front of DynamoDB that records each request's operation (`x-amz-target` without its
 * prefix) and body, so that a test can count what a broadcast costs.
 */
export async function startRecordingProxy(target: string) {
  const { hostname, port } = new URL(target);
  const requests: Array<{ operation: string; body: string }> = [];
  const server = createHttpServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const operation =
      String(req.headers["x-amz-target"] ?? "")
        .split(".")
        .pop() ?? "";
    requests.push({ operation, body: body.toString("utf8") });
    const upstream = request(
      { host: hostname, port, method: req.method, path: req.url, headers: req.headers },
      (response) => {
        res.writeHead(response.statusCode ?? 502, response.headers);
        response.pipe(res);
      },
    );
    upstream.on("error", () => res.destroy());
    upstream.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    async stop() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
