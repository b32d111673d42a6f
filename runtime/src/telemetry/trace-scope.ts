/**
 * Call-scoped trace context. On Node 20, OpenTelemetry's default context manager
 * (AsyncLocalStorage) costs every promise of every call a hook, traced or not: in the server
 * benchmark a quarter of the tracing's whole cost. The runtime does not need it: a call's trace
 * context is captured once when the call starts (the adapter's server span, see server-span.ts,
 * or whatever span is active while grpc-js invokes the handler) and attached to the call's
 * AbortSignal, which every
 * generated query, transaction, stream, client call and event write already receives; the
 * runtime makes that context active exactly while it calls into an instrumented library
 * (`client.query`, a gRPC client request). {@link CallScopedContextManager} is the matching
 * context manager: it keeps a context only for the synchronous extent of `context.with`.
 *
 * The trade-off: your own code that starts spans (or calls an instrumented library the
 * runtime does not wrap) after an `await` sees no active span unless it runs inside
 * {@link withCallTrace}. `SVCGEN_TRACE_CONTEXT=async` restores AsyncLocalStorage propagation
 * everywhere, at that cost (see the README's tracing section).
 *
 * This module imports only `@opentelemetry/api`, so the query runner and the gRPC adapter
 * can use it without loading the SDK.
 */
import {
  type Context,
  type ContextManager,
  context,
  ROOT_CONTEXT,
  trace,
} from "@opentelemetry/api";

const contextKey = Symbol.for("svcgen.runtime.traceContext");
type Carrier = { [contextKey]?: Context | undefined };

/**
 * Attaches a trace context to `carrier` (a call's AbortSignal, a transaction's client), or
 * removes it with undefined.
 */
export function attachTraceContext(carrier: object, ctx: Context | undefined): void {
  (carrier as Carrier)[contextKey] = ctx;
}

/**
 * Attaches the active context to `signal` when a span is active (a traced call starting);
 * nothing otherwise, so untraced calls pay one lookup.
 */
export function captureTraceContext(signal: AbortSignal): void {
  const active = context.active();
  if (trace.getSpan(active) !== undefined) (signal as Carrier)[contextKey] = active;
}

/** The trace context attached to the first carrier that has one, else undefined. */
export function attachedTraceContext(
  first: object | undefined,
  second?: object | undefined,
): Context | undefined {
  return (
    (first as Carrier | undefined)?.[contextKey] ?? (second as Carrier | undefined)?.[contextKey]
  );
}

/**
 * Runs `fn` with the trace context of the call that `signal` belongs to as the active one
 * (for code of your own that starts spans after an await); just `fn()` without one.
 */
export function withCallTrace<T>(signal: AbortSignal | undefined, fn: () => T): T {
  const ctx = attachedTraceContext(signal);
  return ctx === undefined ? fn() : context.with(ctx, fn);
}

/**
 * The trace context of work about to start: the one attached to the first carrier that has one
 * (a call's signal, a transaction's client), else the active one. Read it before the first
 * await (a pool checkout), while the caller's context is still the active one.
 */
export function traceContextFor(first?: object | undefined, second?: object | undefined): Context {
  return attachedTraceContext(first, second) ?? context.active();
}

/**
 * Runs `fn`, which calls into instrumented code (pg's `client.query`), in `ctx`. In a trace
 * that is not sampled it runs outside the trace: the pg instrumentation (`requireParentSpan`)
 * then skips the query instead of building attributes and a span that nobody records.
 * Without tracing this is a lookup.
 */
export function inTrace<T>(ctx: Context, fn: () => T): T {
  const span = trace.getSpan(ctx);
  if (span === undefined) return fn();
  if (!span.isRecording()) return context.with(trace.deleteSpan(ctx), fn);
  return ctx === context.active() ? fn() : context.with(ctx, fn);
}

/** {@link inTrace} in the context {@link traceContextFor} the carriers gives. */
export function inTraceOf<T>(
  first: object | undefined,
  second: object | undefined,
  fn: () => T,
): T {
  return inTrace(traceContextFor(first, second), fn);
}

/**
 * Calls `fn(...args)` with the trace context attached to `signal` active (a call's final
 * callback, so grpc-js interceptors that log the status see the call's span); a plain call
 * when there is none.
 */
export function callInCallTrace<A extends unknown[]>(
  signal: AbortSignal,
  fn: (...args: A) => void,
  ...args: A
): void {
  const ctx = attachedTraceContext(signal);
  if (ctx === undefined) fn(...args);
  else context.with(ctx, fn, undefined, ...args);
}

/**
 * A context manager that keeps a context for the synchronous extent of `context.with` only
 * (and for functions bound with `bind`): no async hooks. Event emitters are returned unbound.
 */
export class CallScopedContextManager implements ContextManager {
  private current: Context = ROOT_CONTEXT;

  active(): Context {
    return this.current;
  }

  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    ctx: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    const previous = this.current;
    this.current = ctx;
    try {
      return fn.call(thisArg, ...args);
    } finally {
      this.current = previous;
    }
  }

  bind<T>(ctx: Context, target: T): T {
    if (typeof target !== "function") return target;
    const manager = this;
    const fn = target as unknown as (...args: unknown[]) => unknown;
    return function (this: unknown, ...args: unknown[]) {
      return manager.with(ctx, () => fn.apply(this, args));
    } as unknown as T;
  }

  enable(): this {
    return this;
  }

  disable(): this {
    this.current = ROOT_CONTEXT;
    return this;
  }
}
