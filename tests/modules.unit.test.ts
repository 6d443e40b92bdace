/**
 * The pure parts of loading a task module: a bare specifier's package name, the node_modules
 * folders looked in, and the explanation of an import the runtime could not resolve.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { missingPackage, nodeModulesDirs, packageName } from "../src/cli/load.ts";
import { makeProject, removeProject } from "./helpers/project.ts";
import { fixture } from "./helpers/taskd.ts";

let project: string;

describe("explaining a task module's failed imports", () => {
  before(() => {
    project = makeProject(fixture("modules/project"));
  });
  after(() => removeProject(project));

  test("packageName() keeps a scope and drops a subpath; relative, absolute and scheme specifiers have none", () => {
    assert.equal(packageName("dayjs"), "dayjs");
    assert.equal(packageName("dayjs/plugin/utc.js"), "dayjs");
    assert.equal(packageName("@opentelemetry/api"), "@opentelemetry/api");
    assert.equal(packageName("@opentelemetry/api/build/x.js"), "@opentelemetry/api");
    for (const s of ["./x.ts", "../x.ts", "/abs/x.ts", "node:fs", "bun:sqlite", "file:///x.ts", "@scope"]) assert.equal(packageName(s), undefined, s);
  });

  test("nodeModulesDirs() lists every folder up to the root, nearest first, never node_modules/node_modules", () => {
    assert.deepEqual(nodeModulesDirs("/app/src"), ["/app/src/node_modules", "/app/node_modules", "/node_modules"]);
    assert.deepEqual(nodeModulesDirs("/app/node_modules/pkg/lib"), [
      "/app/node_modules/pkg/lib/node_modules",
      "/app/node_modules/pkg/node_modules",
      "/app/node_modules",
      "/node_modules",
    ]);
  });

  test("an error with specifier and referrer (Bun's ResolveMessage): the package, the file, where it looked", () => {
    const from = join(project, "tasks.ts");
    const m = missingPackage({ code: "ERR_MODULE_NOT_FOUND", specifier: "dayjs/plugin/utc.js", referrer: from, message: "Cannot find package 'dayjs'" });
    assert.equal(m, `cannot find package 'dayjs' imported from ${from}: looked in ${nodeModulesDirs(project).join(", ")}; install it in the task module's project (npm install dayjs)`);
  });

  test("a message-only error (require stack, or 'imported from'): parsed for the same facts", () => {
    const from = join(project, "node_modules", "cjs-pkg", "src", "main.js");
    const m = missingPackage(new Error(`Cannot find module 'left-pad'\nRequire stack:\n- ${from}`));
    assert.match(m ?? "", /^cannot find package 'left-pad' imported from .*cjs-pkg\/src\/main\.js: looked in .*cjs-pkg\/src\/node_modules, /);
    const e = missingPackage(new Error(`Cannot find package 'exports-only' imported from ${join(project, "tasks.ts")}`));
    assert.match(e ?? "", /found .*node_modules\/exports-only \(version 2\.0\.0; exports \., \.\/sub, \.\/package\.json\)/);
  });

  test("any other error is left as it is", () => {
    assert.equal(missingPackage(new Error("boom while loading the module")), undefined);
    assert.equal(missingPackage(new SyntaxError("Unexpected token")), undefined);
    assert.equal(missingPackage(undefined), undefined);
    assert.equal(missingPackage({ code: "ERR_MODULE_NOT_FOUND", specifier: "./local.ts", referrer: "/app/tasks.ts" }), undefined);
  });
});
