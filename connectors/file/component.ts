/** Files as worker components: the `source: file` replay, the `sinks: jsonl` results file and the `dead_letter: jsonl` file. */
import type { DeadLetterComponent, SinkComponent, SourceComponent } from "../../src/pipeline/components.js";
import { JsonlDeadLetters, jsonlDeadLetterConfigSchema } from "./dead-letters.js";
import { JsonlSink, jsonlSinkConfigSchema } from "./jsonl-sink.js";
import { createFileSource, fileSourceConfigSchema } from "./source.js";

export const fileSource: SourceComponent<typeof fileSourceConfigSchema> = {
  type: "file",
  schema: fileSourceConfigSchema,
  title: "source: file",
  declaredIn: "connectors/file/source.ts",
  example: `source:
  type: file
  path: [logs/2024-06-01.jsonl, logs/2024-06-02.jsonl]
  checkpoint: .cache/backfill.checkpoint.json`,
  describe: (c) => `file ${typeof c.path === "string" ? c.path : c.path.join(", ")}`,
  create: (c, deps) => createFileSource(c, { ...(deps.progress ? { progressStream: deps.progress } : {}), records: deps.records }),
};

export const jsonlSink: SinkComponent<typeof jsonlSinkConfigSchema> = {
  type: "jsonl",
  schema: jsonlSinkConfigSchema,
  title: "sinks: jsonl",
  declaredIn: "connectors/file/jsonl-sink.ts",
  example: `sinks:
  - type: jsonl
    path: out/results.jsonl`,
  describe: (c) => `jsonl ${c.path}`,
  create: (c, deps) => new JsonlSink(c, deps.metrics),
};

export const jsonlDeadLetters: DeadLetterComponent<typeof jsonlDeadLetterConfigSchema> = {
  type: "jsonl",
  schema: jsonlDeadLetterConfigSchema,
  title: "dead_letter: jsonl",
  declaredIn: "connectors/file/dead-letters.ts",
  example: `dead_letter:
  type: jsonl
  path: out/dead-letters.jsonl`,
  describe: (c) => `jsonl ${c.path}`,
  create: (c) => new JsonlDeadLetters(c),
};
