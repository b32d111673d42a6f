/**
 * Whether a call has sent anything that may write. The call-level retry may run a call that
 * is not idempotent again when its failure came before anything was sent (no connection could
 * be had); that is only safe if no earlier step of the same call wrote: a handler that wrote,
 * then failed to get a connection for its next query, would write twice. Every query,
 * transaction, `:copyfrom` and batch that may write marks the signal it was given (the call's)
 * once it has a connection; the retry reads the mark. Queries run without the call's signal
 * cannot be seen: pass `ctx.signal` (generated handlers do).
 */
const wroteKey = Symbol.for("svcgen.runtime.db.sentWrite");
type Marked = AbortSignal & { [wroteKey]?: true };

/** Records that the call `signal` belongs to has sent a statement that may write. */
export function markSentWrite(signal: AbortSignal | undefined): void {
  if (signal !== undefined) (signal as Marked)[wroteKey] = true;
}

/** Whether a statement that may write was sent under `signal`. */
export function sentWrite(signal: AbortSignal): boolean {
  return (signal as Marked)[wroteKey] === true;
}
