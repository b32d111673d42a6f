/**
 * Fault injection (chaos for tests and staging): per-method latency, errors with a chosen
 * status, and dropped connections, each with a ratio. Off unless configured (the `faults`
 * server feature or `SVCGEN_FAULTS`); a production start with it on logs a warning.
 *
 * The grammar of a spec, e.g. `GetProfile=latency:200ms,error:UNAVAILABLE@0.1;*=drop@0.01`:
 *
 * ```
 * spec    = rule *( ";" rule )            rules; blanks around tokens are ignored
 * rule    = target "=" fault *( "," fault )
 * target  = "*" | Method | Service "/" Method | "/" pkg.Service "/" Method
 * fault   = "latency:" duration [ "@" ratio ]      e.g. latency:200ms, latency:1.5s@0.5
 *         | "error:" status [ "@" ratio ]          a status name (UNAVAILABLE) or number (14)
 *         | "drop" [ "@" ratio ]                   the call's HTTP/2 connection is torn down
 * ratio   = a number in [0, 1] or a percentage    0.1, 10%; default 1 (every call)
 * duration = number ("ms" | "s")
 * ```
 *
 * Every rule whose target matches a call applies, in the order written. For each fault one
 * random draw decides whether it fires (none for ratio 1): each latency that fires adds its
 * delay (ended early by the call's deadline or cancel), then the first drop or error that
 * fires ends the call. Draws come from a seeded generator (`seed`, `SVCGEN_FAULTS_SEED`) so a
 * test's counts are reproducible.
 *
 * Its position in the chain (`faults`, after `deadline`): after auth, so refused calls stay
 * refused; after the bulkhead and the deadline, so injected latency holds a slot and counts
 * against the caller's deadline like a slow handler; before validation and the handler, so a
 * failed call did no work. Metrics and logs (outer) record injected statuses as real ones.
 */
import type { Http2Session } from "node:http2";
import { Socket } from "node:net";
import { type Server, status } from "@grpc/grpc-js";
import { RpcError } from "../grpc/rpc-error.js";
import type { ServerCall, ServerInterceptor } from "./interceptor.js";

/** One fault of a rule. `ratio` is in [0, 1]. */
export type Fault =
  | { readonly kind: "latency"; readonly ms: number; readonly ratio: number }
  | { readonly kind: "error"; readonly code: status; readonly ratio: number }
  | { readonly kind: "drop"; readonly ratio: number };

/** The faults of the calls whose method matches `target`. */
export interface FaultRule {
  /** `*`, `Method`, `Service/Method` or `/pkg.Service/Method`. */
  readonly target: string;
  readonly faults: readonly Fault[];
}

/** Fault injection settings (the `faults` server feature). */
export interface FaultOptions {
  /** The rules, as a spec string or parsed. */
  readonly rules: string | readonly FaultRule[];
  /** Seed of the random draws; default random (`SVCGEN_FAULTS_SEED` when read from the environment). */
  readonly seed?: number;
}

/** A malformed spec; the message names the 1-based character position and what was expected. */
export class FaultSpecError extends Error {
  override readonly name = "FaultSpecError";
  constructor(
    message: string,
    /** 1-based character position in the spec. */
    readonly position: number,
  ) {
    super(message);
  }
}

const statusNames = Object.keys(status).filter((k) => Number.isNaN(Number(k)));

/**
 * Parses a spec (grammar in the module comment). Throws a {@link FaultSpecError} naming the
 * position of the first problem, e.g. `at 12: unknown fault "lag" (expected latency, error
 * or drop)`. An empty spec is no rules.
 */
export function parseFaultSpec(spec: string, source = "fault spec"): FaultRule[] {
  const rules: FaultRule[] = [];
  const fail = (at: number, message: string): never => {
    throw new FaultSpecError(`${source}: at ${at + 1}: ${message}`, at + 1);
  };
  // Walk the spec by separators, keeping each piece's offset for messages.
  let offset = 0;
  for (const rawRule of spec.split(";")) {
    const ruleStart = offset;
    offset += rawRule.length + 1;
    if (rawRule.trim() === "") continue;
    const eq = rawRule.indexOf("=");
    if (eq < 0)
      fail(ruleStart + lead(rawRule), `expected "<method>=<faults>", got "${rawRule.trim()}"`);
    const target = rawRule.slice(0, eq).trim();
    if (!/^(\*|\/?[A-Za-z_][\w.]*(\/[A-Za-z_]\w*)?)$/.test(target)) {
      fail(
        ruleStart + lead(rawRule),
        `"${target}" is not a method: use *, Method, Service/Method or /pkg.Service/Method`,
      );
    }
    const faults: Fault[] = [];
    let faultOffset = ruleStart + eq + 1;
    for (const rawFault of rawRule.slice(eq + 1).split(",")) {
      const at = faultOffset + lead(rawFault);
      faultOffset += rawFault.length + 1;
      faults.push(parseFault(rawFault.trim(), at, fail));
    }
    rules.push({ target, faults });
  }
  return rules;
}

function lead(text: string): number {
  return text.length - text.trimStart().length;
}

function parseFault(text: string, at: number, fail: (at: number, m: string) => never): Fault {
  if (text === "") return fail(at, 'expected a fault ("latency:<ms>", "error:<status>" or "drop")');
  const atSign = text.indexOf("@");
  const body = (atSign < 0 ? text : text.slice(0, atSign)).trim();
  const ratio = atSign < 0 ? 1 : parseRatio(text.slice(atSign + 1).trim(), at + atSign + 1, fail);
  const colon = body.indexOf(":");
  const kind = (colon < 0 ? body : body.slice(0, colon)).trim();
  const arg = colon < 0 ? undefined : body.slice(colon + 1).trim();
  const argAt = at + colon + 1;
  switch (kind) {
    case "latency": {
      const m = arg === undefined ? null : /^(\d+(?:\.\d+)?)(ms|s)$/.exec(arg);
      if (m === null)
        return fail(argAt, `latency needs a duration like 200ms or 1.5s, got "${arg ?? ""}"`);
      const ms = Number(m[1]) * (m[2] === "s" ? 1000 : 1);
      return { kind: "latency", ms, ratio };
    }
    case "error": {
      const code = arg === undefined ? undefined : parseStatus(arg);
      if (code === undefined) {
        return fail(
          argAt,
          `error needs a gRPC status name or number 1-16 (UNAVAILABLE, 14), got "${arg ?? ""}"`,
        );
      }
      return { kind: "error", code, ratio };
    }
    case "drop":
      if (arg !== undefined) return fail(argAt, `drop takes no argument, got "${arg}"`);
      return { kind: "drop", ratio };
    default:
      return fail(at, `unknown fault "${kind}" (expected latency, error or drop)`);
  }
}

function parseStatus(text: string): status | undefined {
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    return n >= 1 && n <= 16 ? (n as status) : undefined;
  }
  const name = statusNames.find((s) => s === text.toUpperCase());
  return name === undefined || name === "OK" ? undefined : status[name as keyof typeof status];
}

function parseRatio(text: string, at: number, fail: (at: number, m: string) => never): number {
  const percent = text.endsWith("%");
  const value = Number(percent ? text.slice(0, -1) : text);
  const ratio = percent ? value / 100 : value;
  if (text === "" || !Number.isFinite(ratio) || ratio < 0 || ratio > 1) {
    return fail(at, `ratio must be a number from 0 to 1 or a percentage, got "${text}"`);
  }
  return ratio;
}

/** A seeded uniform generator in [0, 1) (mulberry32: small, fast, good enough for draws). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function matches(target: string, call: ServerCall): boolean {
  if (target === "*") return true;
  if (target.startsWith("/")) return target === call.info.path;
  const slash = target.indexOf("/");
  if (slash < 0) return target === call.info.method;
  const service = target.slice(0, slash);
  return (
    target.slice(slash + 1) === call.info.method &&
    (service === call.info.service || call.info.service.endsWith(`.${service}`))
  );
}

/** Tears down the HTTP/2 connection a call from `peer` arrived on; false when not found. */
export type ConnectionDropper = (peer: string) => boolean;

/** Options of {@link createFaultInterceptor}. */
export interface FaultInterceptorOptions {
  /** Tears down a call's connection; without it, `drop` ends the call with UNAVAILABLE. */
  readonly drop?: ConnectionDropper;
  /** Told of every fault that fires (for logs and test assertions). */
  readonly onFault?: (fault: Fault, call: ServerCall) => void;
}

/** The fault interceptor for `options` (see the module comment for the semantics). */
export function createFaultInterceptor(
  options: FaultOptions,
  extra: FaultInterceptorOptions = {},
): ServerInterceptor {
  const rules = typeof options.rules === "string" ? parseFaultSpec(options.rules) : options.rules;
  const random = seededRandom(options.seed ?? Math.floor(Math.random() * 2 ** 32));
  // Per method path, the faults that apply: resolved on first call, then a map lookup.
  const byPath = new Map<string, readonly Fault[]>();
  return async (call, next) => {
    let faults = byPath.get(call.info.path);
    if (faults === undefined) {
      faults = rules.filter((r) => matches(r.target, call)).flatMap((r) => r.faults);
      byPath.set(call.info.path, faults);
    }
    for (const fault of faults) {
      if (fault.ratio < 1 && random() >= fault.ratio) continue;
      extra.onFault?.(fault, call);
      if (fault.kind === "latency") {
        await delay(fault.ms, call.ctx.signal);
      } else if (fault.kind === "error") {
        throw new RpcError(fault.code, `Injected fault: ${status[fault.code]}`);
      } else {
        extra.drop?.(call.ctx.peer);
        // The connection is gone (or could not be found): the call ends either way.
        throw new RpcError(status.UNAVAILABLE, "Injected fault: connection dropped");
      }
    }
    return next();
  };
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * A {@link ConnectionDropper} for a grpc-js server: destroys the HTTP/2 session whose remote
 * address is the call's peer. grpc-js keeps its sessions privately: per listening HTTP/2 server
 * in `http2Servers` (a Set each, always), and in a `sessions` map only while channelz is on
 * (1.10 to 1.14, the pinned version; the runtime turns channelz off). When neither shape is
 * there, nothing is dropped and the call ends with UNAVAILABLE instead (the fault test catches
 * such an upgrade).
 */
export function grpcConnectionDropper(server: () => Server | undefined): ConnectionDropper {
  return (peer) => {
    for (const session of serverSessions(server())) {
      const socket = session.socket;
      const remote =
        socket?.remoteAddress === undefined
          ? undefined
          : socket.remoteFamily === "IPv6"
            ? `[${socket.remoteAddress}]:${socket.remotePort}`
            : `${socket.remoteAddress}:${socket.remotePort}`;
      if (remote === peer) {
        tearDown(session);
        return true;
      }
    }
    return false;
  };
}

/** The HTTP/2 sessions a grpc-js server holds, from its private fields (see above). */
function serverSessions(server: Server | undefined): Http2Session[] {
  const internals = server as unknown as { sessions?: unknown; http2Servers?: unknown } | undefined;
  const found = new Set<Http2Session>();
  if (internals?.http2Servers instanceof Map) {
    for (const entry of internals.http2Servers.values() as IterableIterator<{
      sessions?: unknown;
    }>) {
      if (entry.sessions instanceof Set) {
        for (const s of entry.sessions as Set<Http2Session>) found.add(s);
      }
    }
  }
  if (internals?.sessions instanceof Map) {
    for (const s of internals.sessions.keys() as IterableIterator<Http2Session>) found.add(s);
  }
  return [...found];
}

/**
 * Tears the connection down as a network failure would: a TCP reset of the raw socket, so the
 * client sees every call on it end with UNAVAILABLE ("Connection dropped"). `session.destroy()`
 * alone first closes each stream cleanly (RST_STREAM NO_ERROR), which clients report as
 * INTERNAL, unlike a real drop; the raw socket is behind the session's socket proxy.
 */
function tearDown(session: Http2Session): void {
  const key = Object.getOwnPropertySymbols(session).find((s) => s.description === "socket");
  const raw = key === undefined ? undefined : (session as unknown as Record<symbol, unknown>)[key];
  if (raw instanceof Socket) {
    raw.resetAndDestroy();
    return;
  }
  session.destroy();
}

/** Whether the environment looks like production: `NODE_ENV=production` or a Fly.io machine. */
export function isProductionEnvironment(
  env: Readonly<Record<string, string | undefined>>,
): boolean {
  return env.NODE_ENV === "production" || (env.FLY_APP_NAME ?? "") !== "";
}

/**
 * The fault slot of the chain from the `faults` feature or, when it is not given, from
 * `SVCGEN_FAULTS` / `SVCGEN_FAULTS_SEED`: false (off) unless rules are configured. Logs once
 * that faults are on, as a warning in production. A malformed spec throws
 * {@link FaultSpecError}, so the server does not start with a half-understood spec.
 */
export function configureFaults(
  feature: FaultOptions | string | false | undefined,
  env: Readonly<Record<string, string | undefined>>,
  logger: { info(f: object, m: string): void; warn(f: object, m: string): void },
  server: () => Server | undefined,
): ServerInterceptor | false {
  if (feature === false) return false;
  let options: FaultOptions | undefined;
  if (feature === undefined) {
    const spec = env.SVCGEN_FAULTS ?? "";
    if (spec.trim() === "") return false;
    const seedText = env.SVCGEN_FAULTS_SEED;
    const seed = seedText === undefined || seedText === "" ? undefined : Number(seedText);
    if (seed !== undefined && !Number.isInteger(seed)) {
      throw new FaultSpecError(
        `SVCGEN_FAULTS_SEED=${JSON.stringify(seedText)} is not an integer`,
        1,
      );
    }
    options = {
      rules: parseFaultSpec(spec, "SVCGEN_FAULTS"),
      ...(seed === undefined ? {} : { seed }),
    };
  } else {
    options = typeof feature === "string" ? { rules: feature } : feature;
  }
  const rules =
    typeof options.rules === "string" ? parseFaultSpec(options.rules, "faults") : options.rules;
  if (rules.length === 0) return false;
  const fields = { faults: rules.map(formatRule).join(";") };
  if (isProductionEnvironment(env)) {
    logger.warn(
      fields,
      "fault injection is ON in a production environment: calls will fail on purpose",
    );
  } else {
    logger.info(fields, "fault injection on");
  }
  return createFaultInterceptor({ ...options, rules }, { drop: grpcConnectionDropper(server) });
}

/** A rule in the spec grammar (for logs). */
export function formatRule(rule: FaultRule): string {
  const ratio = (r: number): string => (r === 1 ? "" : `@${r}`);
  return `${rule.target}=${rule.faults
    .map((f) =>
      f.kind === "latency"
        ? `latency:${f.ms}ms${ratio(f.ratio)}`
        : f.kind === "error"
          ? `error:${status[f.code]}${ratio(f.ratio)}`
          : `drop${ratio(f.ratio)}`,
    )
    .join(",")}`;
}
