/**
 * Text templates end to end through the CLI: a `templates:` override changes the rendered
 * file (and an edit to it regenerates although nothing else changed), `templates eject` then
 * generate gives identical output, eject refuses to overwrite without --force and exits 2 on
 * an unknown name, an unknown override name is a config error with a suggestion, and a
 * broken override is an SVC103 at its line.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runWatch, type WatchRun } from "../../cli/src/commands/watch-command.js";
import { main } from "../../cli/src/main.js";
import { builtinTemplateNames } from "../../cli/src/templates/template-registry.js";
import { serverUrl } from "../db.js";

const dirs: string[] = [];

async function project(
  config = "schema: migrations\nqueries: queries\nout: gen\n",
): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "svcgen-templates-"));
  dirs.push(dir);
  await mkdir(join(dir, "migrations"));
  await mkdir(join(dir, "queries"));
  await writeFile(join(dir, "svcgen.yaml"), config);
  await writeFile(
    join(dir, "migrations", "001.sql"),
    "CREATE TABLE notes (id bigint PRIMARY KEY, body text);\n",
  );
  await writeFile(
    join(dir, "queries", "notes.sql"),
    "-- name: GetNote :one\nSELECT id, body FROM notes WHERE id = @id;\n\n-- name: ListNotes :many\nSELECT id FROM notes;\n",
  );
  return dir;
}

async function run(dir: string, ...argv: string[]) {
  let out = "";
  let err = "";
  const code = await main(argv, {
    out: (t) => {
      out += t;
    },
    err: (t) => {
      err += t;
    },
    cwd: dir,
    env: { DATABASE_URL: serverUrl() },
  });
  return { code, out, err };
}

/** Every file under `gen/`, path -> content. */
async function genFiles(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else out.set(relative(dir, p), await readFile(p, "utf8"));
    }
  };
  await walk(join(dir, "gen"));
  return out;
}

afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe("text templates", () => {
  it("writes gen/README.md from the built-in template", async () => {
    const dir = await project();
    const r = await run(dir, "generate");
    expect(r.code, r.err).toBe(0);
    const readme = await readFile(join(dir, "gen", "README.md"), "utf8");
    expect(readme).toContain(
      "Everything in `gen/` is written by `svcgen generate` from `svcgen.yaml`",
    );
    expect(readme).toContain("## Queries (2)");
    expect(readme).toContain("- `queries/notes.sql`: `GetNote` (:one), `ListNotes` (:many)\n");
  });

  it("uses an override from the templates folder, and regenerates when it changes", async () => {
    const dir = await project(
      "schema: migrations\nqueries: queries\nout: gen\ntemplates: custom\n",
    );
    await mkdir(join(dir, "custom"));
    await writeFile(join(dir, "custom", ".gitkeep"), "");
    const override = join(dir, "custom", "gen-readme.md.hbs");
    await writeFile(override, "{{queryCount}} queries in {{out}}\n");
    const first = await run(dir, "generate");
    expect(first.code, first.err).toBe(0);
    expect(await readFile(join(dir, "gen", "README.md"), "utf8")).toBe("2 queries in gen\n");

    // Nothing but the override changed: the up-to-date record must not hide the edit.
    await writeFile(override, "{{#each queryFiles}}{{file}}{{/each}}\n");
    const second = await run(dir, "generate");
    expect(second.code, second.err).toBe(0);
    expect(second.out).toMatch(/1 written/);
    expect(await readFile(join(dir, "gen", "README.md"), "utf8")).toBe("queries/notes.sql\n");
  });

  it("eject then generate gives identical output", async () => {
    const dir = await project();
    expect((await run(dir, "generate")).code).toBe(0);
    const before = await genFiles(dir);
    expect(before.has("gen/README.md")).toBe(true);

    const ejected = await run(dir, "templates", "eject");
    expect(ejected.code, ejected.err).toBe(0);
    expect(ejected.out).toBe(
      `${builtinTemplateNames.map((n) => `wrote templates/${n}\n`).join("")}add \`templates: templates\` to svcgen.yaml so that generate uses them\n`,
    );
    await writeFile(
      join(dir, "svcgen.yaml"),
      "schema: migrations\nqueries: queries\nout: gen\ntemplates: templates\n",
    );
    const again = await run(dir, "generate");
    expect(again.code, again.err).toBe(0);
    expect(again.out).toMatch(/0 written, 0 deleted/);
    expect(await genFiles(dir)).toEqual(before);
  });

  it("eject refuses to overwrite without --force and exits 2 on an unknown name", async () => {
    const dir = await project("schema: migrations\nqueries: queries\nout: gen\ntemplates: t\n");
    const first = await run(dir, "templates", "eject", "gen-readme.md.hbs");
    expect(first.code, first.err).toBe(0);
    expect(first.out).toBe("wrote t/gen-readme.md.hbs\n");
    await writeFile(join(dir, "t", "gen-readme.md.hbs"), "mine\n");

    const listed = await run(dir, "templates", "list");
    const lines = listed.out.split("\n").filter((l) => l !== "");
    expect(lines).toHaveLength(builtinTemplateNames.length);
    expect(lines).toContain(
      "gen-readme.md.hbs (overridden)  <out>/README.md: what the generated folder holds and how to regenerate it",
    );
    expect(lines.filter((l) => l.includes("(overridden)"))).toHaveLength(1);

    const refused = await run(dir, "templates", "eject");
    expect(refused.code).toBe(1);
    expect(refused.err).toContain("t/gen-readme.md.hbs already exists; not overwritten");
    expect(await readFile(join(dir, "t", "gen-readme.md.hbs"), "utf8")).toBe("mine\n");

    const forced = await run(dir, "templates", "eject", "--force");
    expect(forced.code, forced.err).toBe(0);
    expect(await readFile(join(dir, "t", "gen-readme.md.hbs"), "utf8")).not.toBe("mine\n");

    const unknown = await run(dir, "templates", "eject", "gen-readme.hbs");
    expect(unknown.code).toBe(2);
    expect(unknown.err).toBe(
      "error SVC103: no built-in template named gen-readme.hbs\n  hint: did you mean `gen-readme.md.hbs`?\n",
    );
  });

  it("reports an override name that matches no built-in template, with a suggestion", async () => {
    const dir = await project("schema: migrations\nqueries: queries\nout: gen\ntemplates: t\n");
    await mkdir(join(dir, "t"));
    await writeFile(join(dir, "t", "gen-readme.hbs"), "x\n");
    const r = await run(dir, "generate");
    expect(r.code).toBe(2);
    expect(r.err).toContain(
      "svcgen.yaml:4:12: error SVC100: templates: t/gen-readme.hbs does not override any built-in template",
    );
    expect(r.err).toContain("did you mean `gen-readme.md.hbs`?");
  });

  it("reports a broken override at its line and writes nothing", async () => {
    const dir = await project("schema: migrations\nqueries: queries\nout: gen\ntemplates: t\n");
    await mkdir(join(dir, "t"));
    await writeFile(join(dir, "t", "gen-readme.md.hbs"), "# Title\n\n{{queryCont}}\n");
    const r = await run(dir, "generate");
    expect(r.code).toBe(1);
    expect(r.err).toMatch(
      /t\/gen-readme\.md\.hbs:3:\d+: error SVC103: template gen-readme\.md\.hbs failed: "queryCont" not defined/,
    );
    await expect(readdir(join(dir, "gen"))).rejects.toThrow();
  });

  it("watch re-renders when an override changes", async () => {
    const dir = await project("schema: migrations\nqueries: queries\nout: gen\ntemplates: t\n");
    await mkdir(join(dir, "t"));
    const override = join(dir, "t", "gen-readme.md.hbs");
    await writeFile(override, "first {{queryCount}}\n");
    const runs: WatchRun[] = [];
    let wake: () => void = () => {};
    const nextRun = (n: number) =>
      new Promise<void>((resolve) => {
        wake = () => {
          if (runs.length >= n) resolve();
        };
        wake();
      });
    const stop = new AbortController();
    const errors: string[] = [];
    const watching = runWatch({
      configPath: join(dir, "svcgen.yaml"),
      env: { DATABASE_URL: serverUrl() },
      log: () => {},
      report: (t) => errors.push(t),
      signal: stop.signal,
      onRun: (r) => {
        runs.push(r);
        wake();
      },
    });
    try {
      await nextRun(1);
      expect(await readFile(join(dir, "gen", "README.md"), "utf8")).toBe("first 2\n");
      await writeFile(override, "second {{queryCount}}\n");
      await nextRun(2);
      expect(runs[1]).toMatchObject({ changed: ["t/gen-readme.md.hbs"], kinds: ["template"] });
      expect(runs[1]?.written).toEqual(["gen/README.md"]);
      expect(await readFile(join(dir, "gen", "README.md"), "utf8")).toBe("second 2\n");
    } finally {
      stop.abort();
      await watching;
    }
    expect(errors).toEqual([]);
  });
});
