/**
 * A relay process for the kill test: `node events-relay-child.js <databaseUrl> <postgres|nats>
 * [stream] [subjectPrefix]`. It claims one batch, lets the real transport publish the first
 * half, prints `PUBLISHED <n>` and then hangs inside the batch (its claiming transaction open)
 * until the test kills it with SIGKILL.
 */
import pg from "pg";
import {
  createNatsTransport,
  createPostgresTransport,
  startRelay,
} from "../../runtime/dist/events/index.js";

const [url, kind, stream, subjectPrefix] = process.argv.slice(2);
const pool = new pg.Pool({ connectionString: url, max: 4 });
const real =
  kind === "nats"
    ? createNatsTransport({ stream, subjectPrefix })
    : createPostgresTransport({ pool });
const hangingTransport = {
  kind: real.kind,
  async publish(events) {
    const half = events.slice(0, Math.floor(events.length / 2));
    await real.publish(half);
    process.stdout.write(`PUBLISHED ${half.length}\n`);
    await new Promise(() => {});
  },
  subscribe: (options) => real.subscribe(options),
  close: () => real.close(),
};
await startRelay({ pool, transport: hangingTransport, batchSize: 40, listen: false });
