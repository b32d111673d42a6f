/**
 * `checkBreaking`: the real `buf breaking` (offline) against a git ref of a repository
 * created in the test, and against folders; breaking changes become SVC306 diagnostics at
 * the current .proto line, and comparison failures one clear diagnostic.
 */
import { execFileSync } from "node:child_process";
import { cp, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { checkBreaking } from "../../cli/src/proto/breaking.js";
import { protoConfig } from "./proto-fixture.js";

const v1 = `syntax = "proto3";

package shop.v1;

import "svcgen/v1/options.proto";

message Item {
  int64 id = 1;
  string name = 2;
}

message GetItemRequest {
  int64 id = 1;
}

service ItemService {
  rpc GetItem(GetItemRequest) returns (Item) {
    option (svcgen.v1.method) = {query: "GetItem"};
  }
  rpc DeleteItem(GetItemRequest) returns (Item);
}
`;

/** v1 with GetItemRequest.id changed from int64 to string and DeleteItem removed. */
const breaking = v1
  .replace(
    "message GetItemRequest {\n  int64 id = 1;",
    "message GetItemRequest {\n  string id = 1;",
  )
  .replace("  rpc DeleteItem(GetItemRequest) returns (Item);\n", "");

/** v1 with a field added: not breaking. */
const additive = v1.replace("  string name = 2;\n", "  string name = 2;\n  string sku = 3;\n");

const protoFile = "proto/shop/v1/items.proto";
const temps: string[] = [];

async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), `svcgen-${prefix}-`));
  temps.push(dir);
  return dir;
}

function git(cwd: string, ...args: string[]): string {
  return execFileSync(
    "git",
    ["-c", "user.name=svcgen test", "-c", "user.email=test@example.com", ...args],
    { cwd, encoding: "utf8", env: { ...process.env, GIT_CONFIG_NOSYSTEM: "1" } },
  );
}

/** The diagnostics of the breaking v2, at the lines of `breaking`. */
function expectedBreaks(file: string) {
  const lines = breaking.split("\n");
  const fieldLine = lines.indexOf("  string id = 1;") + 1;
  const serviceLine = lines.indexOf("service ItemService {") + 1;
  return [
    {
      severity: "error",
      code: "SVC306",
      message:
        'Field "1" with name "id" on message "GetItemRequest" changed type from "int64" to "string".',
      file,
      line: fieldLine,
      column: 3,
      hint: "buf breaking rule FIELD_SAME_TYPE",
    },
    {
      severity: "error",
      code: "SVC306",
      message: 'Previously present RPC "DeleteItem" on service "ItemService" was deleted.',
      file,
      line: serviceLine,
      column: 1,
      hint: "buf breaking rule RPC_NO_DELETE",
    },
  ];
}

afterAll(async () => {
  for (const d of temps) await rm(d, { recursive: true, force: true });
});

describe("against a git ref", () => {
  let repo: string;
  let project: string;

  beforeAll(async () => {
    // The project is a sub-folder of the repository, as in a monorepo.
    repo = await tempDir("breaking-git");
    project = path.join(repo, "services", "shop");
    await mkdir(path.join(project, "proto", "shop", "v1"), { recursive: true });
    await writeFile(path.join(project, protoFile), v1);
    git(repo, "init", "-q", "-b", "main");
    git(repo, "add", ".");
    git(repo, "commit", "-q", "-m", "v1");
  });

  test("an unchanged contract has no breaking change", async () => {
    expect(await checkBreaking(protoConfig(project), "main")).toEqual([]);
  });

  test("a changed field type and a removed RPC: one diagnostic each", async () => {
    await writeFile(path.join(project, protoFile), breaking);
    expect(await checkBreaking(protoConfig(project), "main")).toEqual(expectedBreaks(protoFile));
    expect(await checkBreaking(protoConfig(project), "HEAD")).toEqual(expectedBreaks(protoFile));
  });

  test("an added field is not breaking", async () => {
    await writeFile(path.join(project, protoFile), additive);
    expect(await checkBreaking(protoConfig(project), "main")).toEqual([]);
  });

  test("HEAD~1 after committing the breaking version, HEAD after committing it", async () => {
    await writeFile(path.join(project, protoFile), breaking);
    git(repo, "commit", "-q", "-am", "v2");
    expect(await checkBreaking(protoConfig(project), "HEAD~1")).toEqual(expectedBreaks(protoFile));
    expect(await checkBreaking(protoConfig(project), "HEAD")).toEqual([]);
  });

  test("a deleted file is reported without a location", async () => {
    await writeFile(
      path.join(project, "proto/shop/v1/extra.proto"),
      'syntax = "proto3";\npackage shop.v1;\nmessage Extra {}\n',
    );
    git(repo, "add", ".");
    git(repo, "commit", "-q", "-m", "extra");
    await rm(path.join(project, "proto/shop/v1/extra.proto"));
    expect(await checkBreaking(protoConfig(project), "HEAD")).toEqual([
      {
        severity: "error",
        code: "SVC306",
        message: 'Previously present file "shop/v1/extra.proto" was deleted.',
        hint: "buf breaking rule FILE_NO_DELETE",
      },
    ]);
  });

  test("an unknown ref is one clear diagnostic", async () => {
    expect(await checkBreaking(protoConfig(project), "no-such-branch")).toEqual([
      {
        severity: "error",
        code: "SVC306",
        message: "--against no-such-branch: no such git commit, branch or tag",
        hint: "name a commit, branch or tag (main, HEAD~1, v1.2.0), or an existing folder",
      },
    ]);
    expect((await checkBreaking(protoConfig(project), "--output=x"))[0]?.message).toBe(
      "--against --output=x: no such git commit, branch or tag",
    );
  });

  test("a ref without the protos: nothing can break", async () => {
    const other = path.join(repo, "services", "new");
    await mkdir(path.join(other, "proto", "shop", "v1"), { recursive: true });
    await writeFile(path.join(other, protoFile), v1);
    expect(await checkBreaking(protoConfig(other), "HEAD")).toEqual([]);
  });
});

describe("against a folder", () => {
  let project: string;
  let previous: string;

  beforeAll(async () => {
    project = await tempDir("breaking-project");
    previous = await tempDir("breaking-previous");
    await mkdir(path.join(previous, "proto", "shop", "v1"), { recursive: true });
    await writeFile(path.join(previous, protoFile), v1);
    await mkdir(path.join(project, "proto", "shop", "v1"), { recursive: true });
  });

  test("a copy of the earlier project: breaking and additive changes", async () => {
    await writeFile(path.join(project, protoFile), breaking);
    expect(await checkBreaking(protoConfig(project), previous)).toEqual(expectedBreaks(protoFile));
    await writeFile(path.join(project, protoFile), additive);
    expect(await checkBreaking(protoConfig(project), previous)).toEqual([]);
  });

  test("a folder that is the earlier proto root itself, relative to cwd", async () => {
    await writeFile(path.join(project, protoFile), breaking);
    const root = path.join(previous, "proto");
    expect(
      await checkBreaking(protoConfig(project), path.relative(tmpdir(), root), { cwd: tmpdir() }),
    ).toEqual(expectedBreaks(protoFile));
  });

  test("protos that do not compile: a located compile diagnostic", async () => {
    const broken = await tempDir("breaking-broken");
    await cp(path.join(project, "proto"), path.join(broken, "proto"), { recursive: true });
    await writeFile(
      path.join(broken, "proto/shop/v1/bad.proto"),
      'syntax = "proto3";\nmessage {\n',
    );
    expect(await checkBreaking(protoConfig(broken), previous)).toEqual([
      {
        severity: "error",
        code: "SVC300",
        message: "syntax error: unexpected '{'",
        file: "proto/shop/v1/bad.proto",
        line: 2,
        column: 9,
      },
    ]);
  });
});

describe("comparison failures", () => {
  test("not a git repository", async () => {
    const dir = await tempDir("breaking-nogit");
    await mkdir(path.join(dir, "proto"));
    await writeFile(path.join(dir, "proto/a.proto"), 'syntax = "proto3";\n');
    const diags = await checkBreaking(protoConfig(dir), "main");
    expect(diags).toEqual([
      {
        severity: "error",
        code: "SVC306",
        message: `--against main: the project folder ${dir} is not in a git repository`,
        hint: "pass a folder holding the earlier version of the project to --against, or run it in a git checkout",
      },
    ]);
  });

  test("no proto section", async () => {
    const dir = await tempDir("breaking-noproto");
    const config = { ...protoConfig(dir), proto: undefined };
    expect(await checkBreaking(config, "main")).toEqual([
      {
        severity: "error",
        code: "SVC306",
        message: "--against compares proto contracts, and svcgen.yaml has no proto: section",
        hint: "add proto: (roots: [proto]) to svcgen.yaml",
      },
    ]);
  });
});
