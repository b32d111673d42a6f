/**
 * The HTTP side port: `GET /healthz` (the process is alive: 200 while it runs),
 * `GET /readyz` (ready for traffic: 200 when health is SERVING, else 503), and any extra
 * routes (the telemetry layer adds `/metrics`). Plain node:http, so probes cost nothing.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";

/** An extra route of the side port: write the whole response. */
export type SidePortRoute = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

/** Options of {@link startSidePort}. */
export interface SidePortOptions {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** Whether the service is ready for traffic right now. */
  readonly ready: () => boolean;
  /** Extra routes by path (`/metrics`). */
  readonly routes?: Readonly<Record<string, SidePortRoute>>;
}

/** A listening side port. */
export interface SidePort {
  /** `host:port` it listens on. */
  readonly address: string;
  close(): Promise<void>;
}

/** Starts the side port. */
export async function startSidePort(options: SidePortOptions): Promise<SidePort> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    if (path === "/healthz") {
      res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
      return;
    }
    if (path === "/readyz") {
      const ok = options.ready();
      res
        .writeHead(ok ? 200 : 503, { "content-type": "text/plain" })
        .end(ok ? "ready\n" : "not ready\n");
      return;
    }
    const route = options.routes?.[path];
    if (route !== undefined) {
      Promise.resolve(route(req, res)).catch(() => {
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
      return;
    }
    res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
  });
  // Probes hold no state: never let a keep-alive probe connection delay shutdown.
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const addr = server.address();
  const port = typeof addr === "object" && addr !== null ? addr.port : options.port;
  return {
    address: `${options.host.includes(":") ? `[${options.host}]` : options.host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
