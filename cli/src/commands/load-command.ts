/**
 * `svcgen load <Service>.<Method>`: a gRPC load generator for the project's own services, on
 * grpc-js (ghz cannot be installed everywhere). Message types come from the project's protos
 * through the same buf build `generate` does; requests are JSON templates (`{{seq}}`,
 * `{{uuid}}`, `{{name}}` from a values file) encoded once when they have no placeholder. One
 * channel (its own HTTP/2 connection) per `perChannel` in-flight calls. Every method kind: a
 * client-streaming or bidi call sends `streamCount` messages from the template (with
 * backpressure) and then half-closes; a bidi or server stream is read to its end. Reports throughput,
 * status counts, latency percentiles and the load client's own CPU per call, so a benchmark
 * can tell whether the client or the service was the bottleneck.
 */
import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import {
  create,
  createFileRegistry,
  type DescMessage,
  type DescMethod,
  type DescService,
  fromJson,
  type JsonValue,
  toBinary,
} from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import {
  Client,
  credentials,
  status as grpcStatus,
  Metadata,
  type ServiceError,
} from "@grpc/grpc-js";
import type { ResolvedConfig } from "../config/config.js";
import { closestMatch } from "../config/suggest.js";
import { buildProto } from "../proto/buf-build.js";

/** A user error of the command (exit 2): what is wrong and, when known, what to do. */
export class LoadUsageError extends Error {
  override readonly name = "LoadUsageError";
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

/** What one load run does. */
export interface LoadOptions {
  /** `host:port` of the service. */
  readonly target: string;
  readonly method: DescMethod;
  /** The request template (see {@link compileTemplate}). */
  readonly template: RequestTemplate;
  /** Calls in flight at once. Default 10. */
  readonly concurrency?: number;
  /** In-flight calls per channel (each channel is its own connection). Default 10. */
  readonly perChannel?: number;
  /** Stop after this many calls. */
  readonly calls?: number;
  /** Stop after this long, ms. Default 10 s when `calls` is not given. */
  readonly durationMs?: number;
  /** Start at most this many calls per second (a steady schedule); default: as fast as possible. */
  readonly rps?: number;
  /** Calls run this long first without being counted (JIT and connection warm-up), ms. */
  readonly warmupMs?: number;
  /** Per-call deadline, ms. Default 10000. */
  readonly timeoutMs?: number;
  /**
   * Messages each client-streaming or bidi call sends. Default 10. Message `i` of call `c` is
   * the template's request number `c * streamCount + i` (so `{{seq}}` counts messages).
   */
  readonly streamCount?: number;
  /** Metadata sent with every call (`authorization`, ...). */
  readonly metadata?: readonly (readonly [string, string])[];
  /** Told of every completed call (tests record per-call timings with it). */
  readonly onCall?: (seq: number, code: number, ms: number) => void;
}

/** The result of a run; `--json` prints it. */
export interface LoadReport {
  readonly method: string;
  readonly target: string;
  readonly concurrency: number;
  readonly channels: number;
  readonly rps: number | null;
  readonly calls: number;
  readonly durationMs: number;
  /** Completed calls per second. */
  readonly throughput: number;
  /** Calls by status name, OK first, then by name. */
  readonly statuses: Readonly<Record<string, number>>;
  readonly latencyMs: {
    readonly min: number;
    readonly mean: number;
    readonly p50: number;
    readonly p90: number;
    readonly p99: number;
    readonly max: number;
  };
  /** The load client's own CPU (user + system) per call and as a share of one core. */
  readonly clientCpu: { readonly usPerCall: number; readonly coreShare: number };
  /** Up to 5 distinct failure messages with their counts. */
  readonly errors: readonly { code: string; message: string; count: number }[];
  /** Request messages sent and response messages received by the counted calls. */
  readonly messages: { readonly sent: number; readonly received: number };
}

/** A compiled request template: the request bytes of call number `seq`. */
export interface RequestTemplate {
  /** True when every call sends the same bytes (encoded once). */
  readonly constant: boolean;
  encode(seq: number): Uint8Array;
}

type Part = string | { readonly name: string };

const placeholder = /\{\{\s*([A-Za-z_][\w.-]*)\s*\}\}/g;

/**
 * Compiles `data` (JSON text) for messages of `schema`. Strings may hold `{{seq}}` (the call's
 * number from 0), `{{uuid}}` (a random UUID) and `{{name}}` (field `name` of the values row
 * `seq mod rows`); a string that is exactly one placeholder takes the value's own JSON type.
 * Checks the request of call 0 against the message type, so a bad field is reported before
 * any call, naming the field (`LoadUsageError`).
 */
export function compileTemplate(
  data: string,
  schema: DescMessage,
  values: readonly Readonly<Record<string, JsonValue>>[] = [],
): RequestTemplate {
  let parsed: JsonValue;
  try {
    parsed = JSON.parse(data) as JsonValue;
  } catch (e) {
    throw new LoadUsageError(`--data is not JSON: ${(e as Error).message}`);
  }
  const names = new Set<string>();
  const compile = (v: JsonValue): ((seq: number) => JsonValue) | undefined => {
    if (typeof v === "string") {
      const parts: Part[] = [];
      let last = 0;
      for (const m of v.matchAll(placeholder)) {
        const name = m[1] ?? "";
        if (m.index > last) parts.push(v.slice(last, m.index));
        parts.push({ name });
        names.add(name);
        last = m.index + m[0].length;
      }
      if (parts.length === 0) return undefined;
      if (last < v.length) parts.push(v.slice(last));
      const only = parts.length === 1 ? parts[0] : undefined;
      if (only !== undefined && typeof only !== "string") {
        return (seq) => placeholderValue(only.name, seq);
      }
      return (seq) =>
        parts
          .map((p) => (typeof p === "string" ? p : textOf(placeholderValue(p.name, seq))))
          .join("");
    }
    if (Array.isArray(v)) {
      const items = v.map((x) => compile(x));
      if (items.every((x) => x === undefined)) return undefined;
      return (seq) => v.map((x, i) => items[i]?.(seq) ?? x);
    }
    if (v !== null && typeof v === "object") {
      const entries = Object.entries(v).map(([k, x]) => [k, x, compile(x)] as const);
      if (entries.every(([, , f]) => f === undefined)) return undefined;
      return (seq) => Object.fromEntries(entries.map(([k, x, f]) => [k, f?.(seq) ?? x]));
    }
    return undefined;
  };
  const placeholderValue = (name: string, seq: number): JsonValue => {
    if (name === "seq") return seq;
    if (name === "uuid") return randomUUID();
    const row = values[seq % values.length];
    return row?.[name] ?? null;
  };
  const render = compile(parsed);
  const known = new Set(values.flatMap((r) => Object.keys(r)));
  for (const name of names) {
    if (name === "seq" || name === "uuid") continue;
    if (values.length === 0) {
      throw new LoadUsageError(
        `--data uses {{${name}}} but no --values file was given`,
        "Placeholders are {{seq}}, {{uuid}} and the fields of the rows of --values",
      );
    }
    if (!known.has(name)) {
      const near = closestMatch(name, [...known, "seq", "uuid"]);
      throw new LoadUsageError(
        `--data uses {{${name}}}, which no row of --values has`,
        near === undefined
          ? `The rows have: ${[...known].join(", ")}`
          : `Did you mean {{${near}}}?`,
      );
    }
  }
  const encode = (json: JsonValue): Uint8Array => {
    try {
      return toBinary(schema, fromJson(schema, json));
    } catch (e) {
      throw dataError(e as Error, schema);
    }
  };
  // Call 0 is checked now; an error in a later row still surfaces, at that call.
  const first = encode(render === undefined ? parsed : render(0));
  if (render === undefined) return { constant: true, encode: () => first };
  if (!names.has("seq") && !names.has("uuid")) {
    // Only values rows vary: each row's bytes are encoded once, not once per call.
    const rows: (Uint8Array | undefined)[] = [first];
    return {
      constant: false,
      encode: (seq) => {
        const i = seq % values.length;
        let bytes = rows[i];
        if (bytes === undefined) {
          bytes = encode(render(i));
          rows[i] = bytes;
        }
        return bytes;
      },
    };
  }
  return { constant: false, encode: (seq) => (seq === 0 ? first : encode(render(seq))) };
}

function textOf(v: JsonValue): string {
  return typeof v === "string" ? v : JSON.stringify(v);
}

/** A protobuf-es JSON error as a usage error naming the field, with a did-you-mean. */
function dataError(e: Error, schema: DescMessage): LoadUsageError {
  const unknown = /cannot decode message ([\w.]+) from JSON: key "([^"]+)" is unknown/.exec(
    e.message,
  );
  if (unknown !== null) {
    const [, typeName = "", key = ""] = unknown;
    const message = typeName === schema.typeName ? schema : undefined;
    const fields = message?.fields.flatMap((f) => [f.jsonName, f.name]) ?? [];
    const near = closestMatch(key, fields);
    return new LoadUsageError(
      `--data: field "${key}" is not a field of ${typeName}`,
      near !== undefined
        ? `Did you mean "${near}"?`
        : message === undefined
          ? undefined
          : `Its fields: ${message.fields.map((f) => f.jsonName).join(", ")}`,
    );
  }
  const field = /cannot decode field ([\w.]+) from JSON: (.*)$/.exec(e.message);
  if (field !== null) {
    return new LoadUsageError(`--data: field ${field[1]}: ${field[2]}`);
  }
  return new LoadUsageError(`--data: ${e.message}`);
}

/** Reads a values file: a JSON array of objects, or one JSON object per line. */
export async function readValues(path: string): Promise<Readonly<Record<string, JsonValue>>[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    throw new LoadUsageError(`--values: cannot read ${path}: ${(e as Error).message}`);
  }
  const rows: unknown[] = [];
  const trimmed = text.trim();
  if (trimmed.startsWith("[")) {
    try {
      rows.push(...(JSON.parse(trimmed) as unknown[]));
    } catch (e) {
      throw new LoadUsageError(`--values: ${path} is not JSON: ${(e as Error).message}`);
    }
  } else {
    const lines = text.split("\n");
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]?.trim() ?? "";
      if (line === "") continue;
      try {
        rows.push(JSON.parse(line));
      } catch (e) {
        throw new LoadUsageError(`--values: ${path}:${i + 1}: not JSON: ${(e as Error).message}`);
      }
    }
  }
  rows.forEach((r, i) => {
    if (r === null || typeof r !== "object" || Array.isArray(r)) {
      throw new LoadUsageError(`--values: ${path}: row ${i + 1} is not a JSON object`);
    }
  });
  if (rows.length === 0) throw new LoadUsageError(`--values: ${path} has no rows`);
  return rows as Record<string, JsonValue>[];
}

/** Every service of the project's protos (not their imports), from the buf build. */
export async function loadProjectServices(config: ResolvedConfig): Promise<DescService[]> {
  if (config.proto === undefined) {
    throw new LoadUsageError(
      "The project has no protos (proto: in svcgen.yaml)",
      "svcgen load calls services defined in the project's .proto files",
    );
  }
  const { build, diagnostics } = await buildProto(config.proto.roots, config.rootDir);
  if (build === undefined) {
    const first = diagnostics[0];
    throw new LoadUsageError(
      `The project's protos do not build: ${first?.file ?? ""}${first?.line === undefined ? "" : `:${first.line}`} ${first?.message ?? ""}`.trim(),
      "Run svcgen generate to see every problem",
    );
  }
  const registry = createFileRegistry(create(FileDescriptorSetSchema, { file: [...build.files] }));
  const own = new Set(build.userFiles);
  const services: DescService[] = [];
  for (const type of registry) {
    if (type.kind === "service" && own.has(type.file.proto.name)) services.push(type);
  }
  return services.sort((a, b) => a.typeName.localeCompare(b.typeName));
}

/**
 * The method `name` names: `Service.Method`, `pkg.Service.Method` or `pkg.Service/Method`.
 * Throws a usage error with a did-you-mean otherwise.
 */
export function findMethod(services: readonly DescService[], name: string): DescMethod {
  const cut = Math.max(name.lastIndexOf("/"), name.lastIndexOf("."));
  const serviceName = cut < 0 ? "" : name.slice(0, cut).replace(/^\//, "");
  const methodName = name.slice(cut + 1);
  for (const s of services) {
    if (s.typeName !== serviceName && s.name !== serviceName) continue;
    const m = s.methods.find((x) => x.name === methodName);
    if (m !== undefined) return m;
  }
  const candidates = services.flatMap((s) => s.methods.map((m) => `${s.name}.${m.name}`));
  const short = cut < 0 ? name : `${serviceName.split(".").pop()}.${methodName}`;
  const near = closestMatch(short, candidates);
  throw new LoadUsageError(
    `Unknown method ${name}`,
    near !== undefined
      ? `Did you mean ${near}?`
      : candidates.length === 0
        ? "The project defines no services"
        : `Methods: ${candidates.join(", ")}`,
  );
}

/** The nearest-rank percentile `p` (0-100) of ascending `sorted`. */
export function percentileOf(sorted: Float64Array | readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] ?? 0;
}

const identity = (b: Buffer): Buffer => b;

/** Runs the load and reports; never throws for a failed call (it is counted). */
export async function runLoad(options: LoadOptions): Promise<LoadReport> {
  const concurrency = Math.max(1, options.concurrency ?? 10);
  const perChannel = Math.max(1, options.perChannel ?? 10);
  const total = options.calls ?? Number.POSITIVE_INFINITY;
  const durationMs =
    options.durationMs ?? (options.calls === undefined ? 10_000 : Number.POSITIVE_INFINITY);
  const timeoutMs = options.timeoutMs ?? 10_000;
  const path = `/${options.method.parent.typeName}/${options.method.name}`;
  const kind = options.method.methodKind;
  const streamCount =
    kind === "client_streaming" || kind === "bidi_streaming"
      ? Math.max(1, options.streamCount ?? 10)
      : 1;
  const channelCount = Math.ceil(concurrency / perChannel);
  // A local subchannel pool per client: otherwise grpc-js shares one connection between
  // clients of the same target, and the channels would not spread the load.
  const clients = Array.from(
    { length: channelCount },
    () =>
      new Client(options.target, credentials.createInsecure(), {
        "grpc.use_local_subchannel_pool": 1,
      }),
  );
  const metadata = new Metadata();
  for (const [k, v] of options.metadata ?? []) metadata.add(k, v);
  const constantRequest = options.template.constant
    ? Buffer.from(options.template.encode(0))
    : undefined;
  const requestOf = (n: number): Buffer => {
    if (constantRequest !== undefined) return constantRequest;
    const bytes = options.template.encode(n);
    return Buffer.isBuffer(bytes)
      ? bytes
      : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };
  let sent = 0;
  let received = 0;

  let latencies = new Float64Array(1024);
  let count = 0;
  const statuses = new Map<number, number>();
  const errors = new Map<string, { code: string; message: string; count: number }>();
  let next = 0;
  // During the warm-up the same callers run but nothing is recorded; then the clock restarts.
  let warming = (options.warmupMs ?? 0) > 0;
  let started = performance.now();
  let cpu0 = process.cpuUsage();
  let endAt = warming ? started + (options.warmupMs ?? 0) : started + durationMs;
  let limit = warming ? Number.POSITIVE_INFINITY : total;
  const interval = options.rps === undefined ? 0 : 1000 / options.rps;

  const record = (
    seq: number,
    code: number,
    ms: number,
    error: ServiceError | undefined,
    messages: { sent: number; received: number },
  ): void => {
    if (warming) return;
    sent += messages.sent;
    received += messages.received;
    if (count === latencies.length) {
      const grown = new Float64Array(latencies.length * 2);
      grown.set(latencies);
      latencies = grown;
    }
    latencies[count++] = ms;
    statuses.set(code, (statuses.get(code) ?? 0) + 1);
    if (error !== undefined) {
      const key = `${code} ${error.details}`;
      const e = errors.get(key);
      if (e !== undefined) e.count++;
      else if (errors.size < 5) {
        errors.set(key, {
          code: grpcStatus[code] ?? String(code),
          message: error.details,
          count: 1,
        });
      }
    }
    options.onCall?.(seq, code, ms);
  };

  const call = (client: Client, seq: number): Promise<void> =>
    new Promise((done) => {
      const t0 = performance.now();
      const deadline = Date.now() + timeoutMs;
      const io = { sent: 0, received: 0 };
      let settled = false;
      const finish = (code: number, error?: ServiceError): void => {
        if (settled) return;
        settled = true;
        record(seq, code, performance.now() - t0, error, io);
        done();
      };
      const onReply = (err: ServiceError | null): void => {
        if (err === null) io.received++;
        finish(err === null ? grpcStatus.OK : err.code, err ?? undefined);
      };
      if (kind === "unary") {
        io.sent = 1;
        client.makeUnaryRequest(
          path,
          identity,
          identity,
          requestOf(seq),
          metadata,
          { deadline },
          onReply,
        );
        return;
      }
      if (kind === "server_streaming") {
        io.sent = 1;
        const stream = client.makeServerStreamRequest(
          path,
          identity,
          identity,
          requestOf(seq),
          metadata,
          {
            deadline,
          },
        );
        readToEnd(stream);
        return;
      }
      const writable =
        kind === "client_streaming"
          ? client.makeClientStreamRequest(
              path,
              identity,
              identity,
              metadata,
              { deadline },
              onReply,
            )
          : client.makeBidiStreamRequest(path, identity, identity, metadata, { deadline });
      if (kind === "bidi_streaming")
        readToEnd(writable as ReturnType<Client["makeBidiStreamRequest"]>);
      // Writes honour backpressure: wait for 'drain' when the stream's buffer is full.
      let i = 0;
      const writeMore = (): void => {
        while (i < streamCount && !settled) {
          const ok = writable.write(requestOf(seq * streamCount + i));
          i++;
          io.sent++;
          if (!ok) {
            writable.once("drain", writeMore);
            return;
          }
        }
        if (!settled) writable.end();
      };
      writeMore();

      function readToEnd(stream: NodeJS.EventEmitter): void {
        stream.on("data", () => {
          io.received++;
        });
        stream.on("error", (e: ServiceError) => finish(e.code, e));
        stream.on("status", (s: { code: number }) => {
          if (s.code === grpcStatus.OK) finish(grpcStatus.OK);
        });
      }
    });

  const worker = async (w: number): Promise<void> => {
    const client = clients[Math.floor(w / perChannel)] as Client;
    for (;;) {
      const seq = next;
      if (seq >= limit) return;
      if (interval > 0) {
        const at = started + seq * interval;
        if (at >= endAt) return;
        const wait = at - performance.now();
        next++;
        if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      } else {
        if (performance.now() >= endAt) return;
        next++;
      }
      await call(client, seq);
    }
  };
  try {
    if (warming) {
      await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
      warming = false;
      next = 0;
      limit = total;
      started = performance.now();
      cpu0 = process.cpuUsage();
      endAt = started + durationMs;
    }
    await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
  } finally {
    for (const c of clients) c.close();
  }
  const elapsed = performance.now() - started;
  const cpu = process.cpuUsage(cpu0);
  const sorted = latencies.subarray(0, count).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  const round = (v: number): number => Math.round(v * 1000) / 1000;
  const names = [...statuses.entries()]
    .map(([code, n]) => [grpcStatus[code] ?? String(code), n] as const)
    .sort(([a], [b]) => (a === "OK" ? -1 : b === "OK" ? 1 : a.localeCompare(b)));
  return {
    method: path,
    target: options.target,
    concurrency,
    channels: channelCount,
    rps: options.rps ?? null,
    calls: count,
    durationMs: round(elapsed),
    throughput: round((count * 1000) / elapsed),
    statuses: Object.fromEntries(names),
    latencyMs: {
      min: round(sorted[0] ?? 0),
      mean: round(count === 0 ? 0 : sum / count),
      p50: round(percentileOf(sorted, 50)),
      p90: round(percentileOf(sorted, 90)),
      p99: round(percentileOf(sorted, 99)),
      max: round(sorted[count - 1] ?? 0),
    },
    clientCpu: {
      usPerCall: round(count === 0 ? 0 : (cpu.user + cpu.system) / count),
      coreShare: round((cpu.user + cpu.system) / 1000 / elapsed),
    },
    errors: [...errors.values()],
    messages: { sent, received },
  };
}

/** The human summary of a report. */
export function formatReport(r: LoadReport): string {
  const ms = (v: number): string => v.toFixed(2);
  return [
    `svcgen load: ${r.method} on ${r.target}`,
    `  ${r.calls} calls in ${(r.durationMs / 1000).toFixed(2)} s: ${r.throughput.toFixed(1)} calls/s` +
      ` (concurrency ${r.concurrency} on ${r.channels} channel${r.channels === 1 ? "" : "s"}` +
      `${r.rps === null ? "" : `, at most ${r.rps}/s`})`,
    `  statuses: ${
      Object.entries(r.statuses)
        .map(([k, n]) => `${k} ${n}`)
        .join(", ") || "none"
    }`,
    `  latency ms: p50 ${ms(r.latencyMs.p50)}  p90 ${ms(r.latencyMs.p90)}  p99 ${ms(r.latencyMs.p99)}` +
      `  max ${ms(r.latencyMs.max)}  (min ${ms(r.latencyMs.min)}, mean ${ms(r.latencyMs.mean)})`,
    `  client CPU: ${r.clientCpu.usPerCall.toFixed(1)} us per call (${Math.round(r.clientCpu.coreShare * 100)} % of one core)`,
    ...(r.messages.sent === r.calls && r.messages.received <= r.calls
      ? []
      : [`  messages: ${r.messages.sent} sent, ${r.messages.received} received`]),
    ...r.errors.map((e) => `  ${e.code} x${e.count}: ${e.message}`),
    "",
  ].join("\n");
}

/** Options of the command as commander parses them. */
export interface LoadCommandOptions {
  readonly data?: string;
  readonly values?: string;
  readonly concurrency: string;
  readonly perChannel: string;
  readonly duration?: string;
  readonly calls?: string;
  readonly rps?: string;
  readonly timeout: string;
  readonly warmup?: string;
  readonly streamCount?: string;
  readonly target: string;
  readonly token?: string;
  readonly header: readonly string[];
  readonly json?: boolean;
}

function positive(name: string, text: string | undefined, integer: boolean): number | undefined {
  if (text === undefined) return undefined;
  const v = Number(text);
  if (!Number.isFinite(v) || v <= 0 || (integer && !Number.isInteger(v))) {
    throw new LoadUsageError(`${name} must be a ${integer ? "whole " : ""}number > 0, not ${text}`);
  }
  return v;
}

/** Parses the command's options into a run (everything but the method and template). */
export function parseLoadOptions(
  opts: LoadCommandOptions,
): Omit<LoadOptions, "method" | "template"> {
  const metadata: [string, string][] = [];
  for (const h of opts.header) {
    const colon = h.indexOf(":");
    const key = colon < 0 ? "" : h.slice(0, colon).trim().toLowerCase();
    if (!/^[a-z0-9_.-]+$/.test(key)) {
      throw new LoadUsageError(`--header must be "name: value", not ${JSON.stringify(h)}`);
    }
    metadata.push([key, h.slice(colon + 1).trim()]);
  }
  if (opts.token !== undefined) metadata.push(["authorization", `Bearer ${opts.token}`]);
  if (!/^(\[[0-9a-fA-F:]+\]|[\w.-]+):\d+$/.test(opts.target)) {
    throw new LoadUsageError(`--target must be host:port, not ${opts.target}`);
  }
  const duration = positive("--duration", opts.duration, false);
  const calls = positive("--calls", opts.calls, true);
  const rps = positive("--rps", opts.rps, false);
  const warmup = positive("--warmup", opts.warmup, false);
  const streamCount = positive("--stream-count", opts.streamCount, true);
  return {
    target: opts.target,
    concurrency: positive("--concurrency", opts.concurrency, true) ?? 10,
    perChannel: positive("--per-channel", opts.perChannel, true) ?? 10,
    timeoutMs: positive("--timeout", opts.timeout, true) ?? 10_000,
    metadata,
    ...(duration === undefined ? {} : { durationMs: duration * 1000 }),
    ...(calls === undefined ? {} : { calls }),
    ...(rps === undefined ? {} : { rps }),
    ...(warmup === undefined ? {} : { warmupMs: warmup * 1000 }),
    ...(streamCount === undefined ? {} : { streamCount }),
  };
}

/** `svcgen load`: resolves the method and template, runs, and returns the text to print. */
export async function runLoadCommand(
  config: ResolvedConfig,
  name: string,
  opts: LoadCommandOptions,
  cwd: string,
): Promise<{ report: LoadReport; text: string }> {
  const run = parseLoadOptions(opts);
  const method = findMethod(await loadProjectServices(config), name);
  if (
    run.streamCount !== undefined &&
    method.methodKind !== "client_streaming" &&
    method.methodKind !== "bidi_streaming"
  ) {
    throw new LoadUsageError(
      `--stream-count applies to client-streaming and bidi methods; ${method.parent.name}.${method.name} is ${method.methodKind.replace("_", "-")}`,
    );
  }
  const values = opts.values === undefined ? [] : await readValues(resolve(cwd, opts.values));
  const template = compileTemplate(opts.data ?? "{}", method.input, values);
  const report = await runLoad({ ...run, method, template });
  return {
    report,
    text: opts.json === true ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report),
  };
}
