/**
 * Abort listeners without EventTarget bookkeeping per listener. Every call's signal is
 * watched by several steps (the deadline and bulkhead races, the shutdown of the server), and
 * in Node 20 each `addEventListener`/`removeEventListener` pair on an AbortSignal costs about
 * half a microsecond, growing with the listeners already there (removal walks the list): on
 * the shared shutdown signal, with every call in flight listening, that is one walk per call.
 * Here a signal gets one real listener, the first time anything watches it, and the
 * callbacks live in a Set (O(1) to add and remove).
 */

// The callbacks live on the signal itself, under a symbol: a WeakMap keyed by every call's
// signal made each one an ephemeron for the garbage collector to trace, and GC was the largest
// difference between the runtime's and a hand-written server's CPU per call.
const watchersKey = Symbol("svcgen.abortWatchers");
type Watched = AbortSignal & { [watchersKey]?: Set<() => void> };

/**
 * Calls `listener` once when `signal` aborts (never if it already has: check `aborted`
 * first). Returns the function that stops watching; calling it after the abort is harmless.
 */
export function onAbort(signal: AbortSignal, listener: () => void): () => void {
  const watched = signal as Watched;
  let set = watched[watchersKey];
  if (set === undefined) {
    const created = new Set<() => void>();
    set = created;
    watched[watchersKey] = created;
    signal.addEventListener(
      "abort",
      () => {
        for (const l of created) l();
        created.clear();
      },
      { once: true },
    );
  }
  const entries = set;
  entries.add(listener);
  return () => {
    entries.delete(listener);
  };
}
