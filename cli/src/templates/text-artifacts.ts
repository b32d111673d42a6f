/**
 * The text artifacts `generate` writes through Handlebars templates: view-models decide
 * everything (which rows, which names, in which order); templates only lay them out. A
 * project's `templates:` folder replaces a built-in template by file name.
 */
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { join } from "node:path";
import type { ResolvedConfig } from "../config/config.js";
import { Codes, type Diagnostic } from "../diagnostics.js";
import type { GeneratedFile } from "../inputs.js";
import { type Model, toPublicModel } from "../model.js";
import { projectPath } from "../project-paths.js";
import { builtinTemplates, builtinTemplatesDir } from "./template-registry.js";

// handlebars is CommonJS with `export =`; without esModuleInterop, require is the typed way in.
const Handlebars = createRequire(import.meta.url)("handlebars") as typeof import("handlebars");

// One Handlebars environment of our own: nothing registered globally can change the output.
const handlebars = Handlebars.create();
// `{{json x}}` prints a value as a JSON literal: a quoted, escaped string in JSON files, and
// a valid double-quoted scalar in YAML and TOML files.
handlebars.registerHelper("json", (value: unknown) => JSON.stringify(value));

/** The source of one template: its text and where it came from (shown in diagnostics). */
export interface TemplateSource {
  readonly name: string;
  readonly text: string;
  /** Project-relative path of an override, or the built-in file's absolute path. */
  readonly file: string;
  readonly overridden: boolean;
}

/** What {@link emitTextArtifacts} returns. */
export interface TextArtifacts {
  readonly files: GeneratedFile[];
  readonly diagnostics: Diagnostic[];
}

/** The view of `<out>/README.md` (template `gen-readme.md.hbs`). */
export interface GenReadmeView {
  /** The config file, relative to the project folder. */
  readonly configFile: string;
  /** The output folder, relative to the project folder. */
  readonly out: string;
  readonly manifest: string;
  readonly hasProto: boolean;
  readonly queryCount: number;
  /** Query files in path order, each with its queries in file order. */
  readonly queryFiles: readonly {
    readonly file: string;
    readonly queries: readonly { readonly name: string; readonly command: string }[];
  }[];
}

/** Builds the README's view-model from the config and the Model. */
export function genReadmeView(
  config: ResolvedConfig,
  model: Model,
  manifest: string,
): GenReadmeView {
  const byFile = new Map<string, { name: string; command: string }[]>();
  for (const q of toPublicModel(model).queries) {
    const list = byFile.get(q.file) ?? [];
    list.push({ name: q.name, command: q.command });
    byFile.set(q.file, list);
  }
  const files = [...byFile.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return {
    configFile: projectPath(config.rootDir, config.configPath),
    out: projectPath(config.rootDir, config.out),
    manifest,
    hasProto: config.proto !== undefined,
    queryCount: model.queries.length,
    queryFiles: files.map((file) => ({ file, queries: byFile.get(file) ?? [] })),
  };
}

/**
 * Reads every built-in template, or its override from the project's `templates:` folder.
 * An unreadable override is an SVC103 diagnostic at that file.
 */
export async function loadTemplateSources(
  config: ResolvedConfig,
): Promise<{ sources: Map<string, TemplateSource>; diagnostics: Diagnostic[] }> {
  const sources = new Map<string, TemplateSource>();
  const diagnostics: Diagnostic[] = [];
  const overrides = new Map((config.templates?.overrides ?? []).map((o) => [o.name, o.path]));
  for (const t of builtinTemplates) {
    const override = overrides.get(t.name);
    const abs = override ?? join(builtinTemplatesDir(), t.name);
    const file = override === undefined ? abs : projectPath(config.rootDir, abs);
    try {
      const text = await readFile(abs, "utf8");
      sources.set(t.name, { name: t.name, text, file, overridden: override !== undefined });
    } catch (err) {
      diagnostics.push({
        severity: "error",
        code: Codes.template,
        message: `cannot read template: ${err instanceof Error ? err.message : String(err)}`,
        file,
      });
    }
  }
  return { sources, diagnostics };
}

/**
 * Renders `source` with `view`. Templates run with `noEscape` (these are not HTML) and
 * `strict` (a misspelt field fails loudly instead of rendering empty). A template that does
 * not compile or names a field the view lacks is an SVC103 diagnostic at its line.
 */
export function renderTemplate<View>(
  source: TemplateSource,
  view: View,
): { text: string } | { diagnostic: Diagnostic } {
  try {
    const render = handlebars.compile<View>(source.text, { noEscape: true, strict: true });
    return { text: render(view) };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    // Parse errors say "Parse error on line N:"; strict-mode errors end in " - N:C".
    const parse = /Parse error on line (\d+):/.exec(message);
    const strict = /- (\d+):(\d+)$/.exec(message);
    const line = Number(parse?.[1] ?? strict?.[1] ?? 1);
    const column = strict !== null ? Number(strict[2]) + 1 : 1;
    return {
      diagnostic: {
        severity: "error",
        code: Codes.template,
        message: `template ${source.name} failed: ${message.split("\n")[0] ?? message}`,
        file: source.file,
        line,
        column,
        hint: source.overridden
          ? "fix the override, or delete it to use the built-in template (`svcgen templates eject --force` restores it)"
          : "this is a bug in svcgen's built-in template",
      },
    };
  }
}

/**
 * Every text artifact for the Model: the files (project-relative paths) and the diagnostics
 * of templates that failed. Deterministic: the same Model, config and templates give the
 * same bytes.
 */
export async function emitTextArtifacts(
  config: ResolvedConfig,
  model: Model,
  manifest: string,
): Promise<TextArtifacts> {
  const { sources, diagnostics } = await loadTemplateSources(config);
  const files: GeneratedFile[] = [];
  const readme = sources.get("gen-readme.md.hbs");
  if (readme !== undefined) {
    const r = renderTemplate(readme, genReadmeView(config, model, manifest));
    if ("text" in r) {
      files.push({ path: `${projectPath(config.rootDir, config.out)}/README.md`, content: r.text });
    } else {
      diagnostics.push(r.diagnostic);
    }
  }
  return { files, diagnostics };
}
