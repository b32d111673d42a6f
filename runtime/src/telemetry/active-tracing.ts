/**
 * The tracer provider this process started, kept on `globalThis` so the server can flush it
 * at shutdown without importing the OpenTelemetry SDK (which only the preload loads).
 */

/** A started tracer provider, as `startTracing` returns it. */
export interface ActiveTracing {
  /** Flushes pending spans and stops. */
  shutdown(): Promise<void>;
}

const key = Symbol.for("svcgen.runtime.tracing");
type Holder = { [key]?: ActiveTracing | undefined };

/** Records the provider `startTracing` started (the last one wins). */
export function setActiveTracing(tracing: ActiveTracing | undefined): void {
  (globalThis as Holder)[key] = tracing;
}

/** The provider started in this process, undefined when tracing is off. */
export function activeTracing(): ActiveTracing | undefined {
  return (globalThis as Holder)[key];
}
