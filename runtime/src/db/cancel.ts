/**
 * Server-side cancellation: a PostgreSQL CancelRequest sent on a fresh socket to the backend
 * running the query. Unlike `pg_cancel_backend(pid)` it needs no login and no privileges, and
 * it also works through PgBouncer, which maps its own cancel keys to the server's.
 */
import { connect, type Socket } from "node:net";

/** The parts of a connected node-postgres client a cancel request needs (not in @types/pg). */
export interface CancelTarget {
  readonly processID: number | null;
  readonly secretKey: number | null;
  readonly host: string;
  readonly port: number;
}

// A server that neither answers nor closes within this long is given up on.
const cancelTimeoutMs = 10_000;

// The CancelRequest code from the protocol documentation: 1234 << 16 | 5678.
const cancelRequestCode = 80877102;

/**
 * Sends a CancelRequest for the client's backend and resolves when the server has closed
 * the socket (it answers nothing). Never rejects: a cancel that cannot be delivered leaves
 * the query to finish on its own, which the caller's promise still reports.
 */
export function sendCancelRequest(target: CancelTarget): Promise<void> {
  const { processID, secretKey } = target;
  if (processID === null || secretKey === null) return Promise.resolve();
  return new Promise((resolve) => {
    const socket: Socket = target.host.startsWith("/")
      ? connect(`${target.host}/.s.PGSQL.${target.port}`)
      : connect(target.port, target.host);
    socket.setNoDelay(true);
    socket.once("connect", () => {
      const msg = Buffer.alloc(16);
      msg.writeInt32BE(16, 0);
      msg.writeInt32BE(cancelRequestCode, 4);
      msg.writeInt32BE(processID, 8);
      msg.writeInt32BE(secretKey, 12);
      // Like libpq: write and wait for the server to close. Half-closing first makes some
      // poolers (PgBouncer 1.18) drop the request or fail while forwarding it.
      socket.write(msg);
    });
    socket.setTimeout(cancelTimeoutMs, () => socket.destroy());
    socket.once("error", () => resolve());
    socket.once("close", () => resolve());
    // The server closes the socket after reading the request; never hold the process open.
    socket.unref();
  });
}
