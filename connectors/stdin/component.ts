/** Standard input as a worker component: `source: stdin`. */
import type { SourceComponent } from "../../src/pipeline/components.js";
import { createStdinSource, stdinSourceConfigSchema } from "./source.js";

export const stdinSource: SourceComponent<typeof stdinSourceConfigSchema> = {
  type: "stdin",
  schema: stdinSourceConfigSchema,
  title: "source: stdin",
  declaredIn: "connectors/stdin/source.ts",
  example: `source:
  type: stdin
  checkpoint: .cache/stdin.checkpoint.json`,
  describe: () => "stdin",
  create: (c, deps) => createStdinSource(c, { ...(deps.stdin ? { input: deps.stdin } : {}), ...(deps.progress ? { progressStream: deps.progress } : {}), records: deps.records }),
};
