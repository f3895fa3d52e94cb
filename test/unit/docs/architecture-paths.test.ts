/**
 * docs/architecture.md stays true to the tree: every repository path it names (in backticks or
 * in its diagrams) exists. Paths with placeholders (`connectors/<system>/component.ts`) are
 * and globs (`src/*.ts`) are checked up to the placeholder.
 */
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "../../..");
const TOP = /^(src|connectors|schemas|test|bench|deploy|docs|eslint|models|bin)\//;

/** Repository paths named in a Markdown text: backticked spans and the tokens of its code blocks. */
function namedPaths(markdown: string): string[] {
  const spans = [...markdown.matchAll(/`([^`\n]+)`/g)].map((m) => m[1] as string);
  const blocks = [...markdown.matchAll(/```[^\n]*\n([\s\S]*?)```/g)].flatMap((m) => (m[1] as string).split(/[\s,:;()]+/));
  const paths = [...spans, ...blocks]
    .map((s) => s.trim().replace(/[.,;:]+$/, ""))
    .filter((s) => TOP.test(s) && !/\s/.test(s))
    .map((s) => s.split(/[<*]/)[0] as string);
  return [...new Set(paths)].sort();
}

describe("docs/architecture.md", () => {
  const doc = readFileSync(resolve(root, "docs/architecture.md"), "utf8");
  const paths = namedPaths(doc);

  it("names the layers' folders and files", () => {
    expect(paths.length).toBeGreaterThan(40);
    for (const p of ["src/app/", "src/cli/", "src/pipeline/intake.ts", "src/app/components.ts", "eslint/layer-order.js"]) expect(paths).toContain(p);
  });

  it("names only paths that exist", () => {
    expect(paths.filter((p) => !existsSync(resolve(root, p)))).toEqual([]);
  });

  it("reads placeholders and code blocks", () => {
    expect(namedPaths("see `connectors/<system>/component.ts`, `src/*.ts` and `a b`\n```\n src/cli/   x\n```\n")).toEqual(["connectors/", "src/", "src/cli/"]);
  });
});
