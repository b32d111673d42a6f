/** A free TCP port on 127.0.0.1, picked by the OS (PostgreSQL's default, 5432, is often taken). */
import { createServer } from "node:net";

/** Resolves with a port nobody listens on right now (another process may take it later). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}
