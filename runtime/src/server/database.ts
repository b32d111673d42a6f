/**
 * The service's database: a node-postgres pool whose connection checkout goes through a
 * circuit breaker (cockatiel), a health probe that drives health and readiness, and the
 * error handling a long-running service needs (an idle connection killed by the server is
 * logged and dropped, never a crash).
 *
 * Generated handlers take this pool like any `pg.Pool`: every query they run checks a
 * connection out (`pool.connect()`), so the breaker sees every attempt to reach the
 * database without wrapping the query runners.
 */
import {
  type CircuitBreakerPolicy,
  CircuitState,
  circuitBreaker,
  handleWhen,
  SamplingBreaker,
} from "cockatiel";
import pg from "pg";
import type { BreakerStateName, RuntimeState } from "./runtime-events.js";
import { DatabaseUnavailableError } from "./transient-errors.js";

/** Breaker settings; see the README for why these defaults. */
export interface BreakerOptions {
  /** Failure ratio over the window that opens the breaker. Default 0.5. */
  readonly threshold?: number;
  /** The sliding window, ms. Default 10000. */
  readonly windowMs?: number;
  /** Below this many checkouts per second the breaker never opens (too few to judge). Default 5. */
  readonly minimumRps?: number;
  /** How long it stays open before one probe may try, ms. Default 1000. */
  readonly halfOpenAfterMs?: number;
}

/** Options of {@link createDatabase}. */
export interface DatabaseOptions {
  /** node-postgres pool settings (connection string, max, timeouts). */
  readonly pool: pg.PoolConfig;
  /** The breaker, or false for none. */
  readonly breaker?: BreakerOptions | false;
  /** How often the health probe runs `SELECT 1`, ms. Default 500. */
  readonly probeIntervalMs?: number;
  /** Shared observable state. */
  readonly state: RuntimeState;
  /** Receives errors of idle connections (already handled; for logging). */
  readonly onIdleError?: (error: Error) => void;
  /** Called when health changes (probe result and breaker state together). */
  readonly onHealthChange?: (healthy: boolean) => void;
}

/** The service's database. */
export interface Database {
  /** The pool to hand to generated handlers. */
  readonly pool: pg.Pool;
  /** True when the last probe answered and the breaker is closed. */
  healthy(): boolean;
  /** Runs the probe now (also runs on its interval); resolves to the new health. */
  probe(): Promise<boolean>;
  /** Stops the probe and ends the pool (waits for checked-out connections to come back). */
  close(): Promise<void>;
}

const stateNames: Record<CircuitState, BreakerStateName> = {
  [CircuitState.Closed]: "closed",
  [CircuitState.Open]: "open",
  [CircuitState.HalfOpen]: "half-open",
  [CircuitState.Isolated]: "isolated",
};

// The pool's wait for a free connection timed out: saturation, not a database failure.
const poolWaitTimeout = "timeout exceeded when trying to connect";

/** A pg.Pool whose checkouts pass through the breaker and fail as DatabaseUnavailableError. */
class GuardedPool extends pg.Pool {
  breaker: CircuitBreakerPolicy | undefined;

  override connect(): Promise<pg.PoolClient>;
  override connect(
    callback: (
      err: Error | undefined,
      client: pg.PoolClient | undefined,
      done: (release?: unknown) => void,
    ) => void,
  ): void;
  override connect(
    callback?: (
      err: Error | undefined,
      client: pg.PoolClient | undefined,
      done: (release?: unknown) => void,
    ) => void,
  ): Promise<pg.PoolClient> | undefined {
    const checkout = this.guardedConnect();
    if (callback === undefined) return checkout;
    // pool.query() uses the callback form.
    checkout.then(
      (client) =>
        callback(undefined, client, (release) => client.release(release as Error | undefined)),
      (err: Error) => callback(err, undefined, () => undefined),
    );
    return undefined;
  }

  private async guardedConnect(): Promise<pg.PoolClient> {
    const raw = (): Promise<pg.PoolClient> =>
      super.connect().catch((err: unknown) => {
        // Pool saturation is reported as it is; every other checkout failure means the
        // database could not be reached, before anything was sent.
        if (err instanceof Error && err.message === poolWaitTimeout) throw err;
        throw new DatabaseUnavailableError(err);
      });
    const client = await (this.breaker === undefined ? raw() : this.breaker.execute(raw));
    // node-postgres emits `error` on a client whose connection dies even while a query is
    // running, and the pool listens only while the client is idle: without this listener a
    // server restart during a query crashes the process. The query itself still rejects, and
    // the pool drops the dead client when it is released.
    if (!this.listening.has(client)) {
      this.listening.add(client);
      client.on("error", this.onClientError);
    }
    return client;
  }

  private readonly listening = new WeakSet<pg.PoolClient>();
  /** Errors of checked-out clients, after the pool marked them unusable. */
  onClientError: (error: Error) => void = () => undefined;
}

/**
 * Creates the pool, its breaker and its health probe. The probe starts at once; `healthy()`
 * is false until it first answers.
 */
export function createDatabase(options: DatabaseOptions): Database {
  const { state } = options;
  const pool = new GuardedPool({ keepAlive: true, ...options.pool });
  // Without a listener, an idle connection's error (the server restarted, an admin killed
  // the backend) would crash the process; the pool has already dropped that connection.
  const onConnectionError = (err: Error): void => {
    state.idleErrors++;
    state.events.emit("pool-error", err);
    options.onIdleError?.(err);
  };
  pool.on("error", onConnectionError);
  pool.onClientError = onConnectionError;
  state.pool = () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount });
  if (options.breaker !== false) {
    const b = options.breaker ?? {};
    const breaker = circuitBreaker(
      handleWhen((e) => e instanceof DatabaseUnavailableError),
      {
        halfOpenAfter: b.halfOpenAfterMs ?? 1000,
        breaker: new SamplingBreaker({
          threshold: b.threshold ?? 0.5,
          duration: b.windowMs ?? 10_000,
          minimumRps: b.minimumRps ?? 5,
        }),
      },
    );
    breaker.onStateChange((s) => {
      state.breaker = stateNames[s];
      state.events.emit("breaker", state.breaker);
      update();
    });
    pool.breaker = breaker;
  }
  let probeOk = false;
  let closed = false;
  let lastHealthy = false;
  function update(): void {
    const healthy = probeOk && state.breaker === "closed";
    if (healthy !== lastHealthy) {
      lastHealthy = healthy;
      options.onHealthChange?.(healthy);
    }
  }
  const setHealth = (ok: boolean): void => {
    probeOk = ok;
    update();
  };
  let running: Promise<boolean> | undefined;
  const probeOnce = async (): Promise<boolean> => {
    let client: pg.PoolClient | undefined;
    try {
      // Through the breaker: while it is open the probe is the half-open trial, so an idle
      // service still notices the database's return and closes its breaker.
      client = await pool.connect();
      await client.query("SELECT 1");
      client.release();
      setHealth(true);
    } catch (err) {
      client?.release(err instanceof Error ? err : new Error(String(err)));
      setHealth(false);
    }
    return lastHealthy;
  };
  const probe = (): Promise<boolean> => {
    running ??= probeOnce().finally(() => {
      running = undefined;
    });
    return running;
  };
  const timer = setInterval(() => {
    if (!closed) void probe();
  }, options.probeIntervalMs ?? 500);
  timer.unref();
  void probe();
  return {
    pool,
    healthy: () => probeOk && state.breaker === "closed",
    probe,
    async close() {
      closed = true;
      clearInterval(timer);
      await running;
      await pool.end();
    },
  };
}
