/** A log destination for a server under test, so the test can read what it logged. */
import { Writable } from "node:stream";

/** A destination that parses each JSON line written to it and pushes it onto `lines`. */
export function logLinesInto(lines: Record<string, unknown>[]): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, cb) {
      for (const l of chunk.toString("utf8").split("\n")) if (l !== "") lines.push(JSON.parse(l));
      cb();
    },
  });
}
