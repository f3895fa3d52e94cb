/**
 * The worker config (one YAML file): its root schema, loading, warnings, description and the
 * generated reference (docs/config.md, schemas/config.schema.json). `reagent-stream config`
 * (src/cli/commands/config.ts) is its command line.
 *
 * The root schema is assembled from the schema each component declares next to its code
 * (connectors/kafka/config.ts, connectors/file/source.ts, src/pipeline/sampling/config.ts,
 * src/models/endpoint.ts, connectors/otel/config.ts, …). docs/config.md and
 * schemas/config.schema.json are generated from `CONFIG_SECTIONS` (npm run config:docs).
 *
 * @see docs/config.md
 */
import { redactUrl } from "../redact.js";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { z } from "zod";
import { deprecationsOf } from "../config-aliases.js";
import { attributionResultJsonSchema } from "../../schemas/attribution-result.js";
import { llmLogRecordJsonSchema } from "../../schemas/llm-log-record.js";
import { engineSettingsFrom, engineSettingsObject } from "../attribution/config.js";
import { otelConfigSchema } from "../../connectors/otel/config.js";
import { scorerConfigSchema } from "../models/endpoint.js";
import { loadConfigFile, parseConfigText, type Env } from "./config-loader.js";
import { pipelineConfigSchema } from "../pipeline/config.js";
import { renderConfigDocs } from "./config-docs.js";
import { DEAD_LETTERS, SINKS, SOURCES, describeComponent, unionOf } from "./components.js";
import type { Component } from "../pipeline/components.js";
import { mappingConfigSchema } from "../pipeline/mapping/mapper.js";
import { samplingConfigSchema } from "../pipeline/sampling/config.js";
import { segmentRuleSchema } from "../text/segments.js";
import { fsPath, missingInputs, resolveConfigPaths } from "../config-paths.js";

export const sourceConfigSchema = unionOf(SOURCES);
export const sinkConfigSchema = unionOf(SINKS);
export const deadLetterConfigSchema = unionOf(DEAD_LETTERS);

export const engineSectionSchema = engineSettingsFrom(
  engineSettingsObject.extend({
    segments: z.array(segmentRuleSchema).default([]).describe("Named prompt segments (marker pairs or regular expressions) whose importance share is reported"),
    max_spans: z.number().int().min(1).max(64).default(5).describe("Top prompt spans kept per result"),
    mlm_model: z.string().min(1).meta(fsPath("input-dir")).optional().describe("Masked LM directory for sampler mlm (default: the bundled models/tiny-mlm)"),
    use_logged_token_ids: z
      .boolean()
      .default(false)
      .describe("Attribute the completion token ids from the log instead of re-tokenising its text (only when the log came from the same tokenizer)"),
    cache_dir: z.string().min(1).meta(fsPath("output")).optional().describe("Where the POS table is cached (default .cache/reagent-stream or REAGENT_CACHE_DIR)"),
  }),
).describe("Attribution engine settings (src/attribution/config.ts) plus how records are prepared for it");

export const loggingConfigSchema = z
  .object({
    level: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info").describe("pino log level; logs are JSON lines on stderr"),
    stats_interval_ms: z.number().int().min(0).default(0).describe("Log a stats line (counters, in flight, commits) this often; 0: only at stop"),
  })
  .strict();

export const workerConfigSchema = z
  .object({
    source: sourceConfigSchema.describe("Where logged records come from"),
    mapping: mappingConfigSchema.prefault({}).describe("How logged records become LlmLogRecords"),
    sampling: samplingConfigSchema.prefault({}).describe("Which records are attributed"),
    scorer: scorerConfigSchema.optional().describe("The model that scores: a local ONNX directory or an endpoint (src/models/endpoint.ts); required unless pipeline.attribution is off"),
    engine: engineSectionSchema.prefault({}),
    pipeline: pipelineConfigSchema.prefault({}).describe("Concurrency, in-flight bounds, commits, retries, shutdown"),
    sinks: z.array(sinkConfigSchema).default([]).describe("Where results go; an offset is committed only after every sink stored the result"),
    dead_letter: deadLetterConfigSchema.optional().describe("Where records that cannot be processed go; required for Kafka sources, default dead-letters.jsonl otherwise"),
    otel: otelConfigSchema.optional().describe("OpenTelemetry spans, metrics and events (docs/otel.md)"),
    logging: loggingConfigSchema.prefault({}),
  })
  .strict()
  .superRefine((c, ctx) => {
    const on = c.pipeline.attribution === "on";
    if (on && c.scorer === undefined) {
      ctx.addIssue({ code: "custom", path: ["scorer"], message: "missing: attribution needs a scorer (type: local with path: models/tiny-lm, or an endpoint); or set pipeline.attribution: off" });
    }
    if (on && c.sinks.length === 0) ctx.addIssue({ code: "custom", path: ["sinks"], message: "no sinks: results would go nowhere; add one (type: jsonl, path: results.jsonl)" });
    if (c.source.type === "kafka" && c.dead_letter === undefined) {
      ctx.addIssue({ code: "custom", path: ["dead_letter"], message: "missing: a Kafka source needs a dead-letter route (type: kafka with topic, or type: jsonl with path)" });
    }
    if (c.dead_letter?.type === "kafka" && c.dead_letter.brokers === undefined && c.source.type !== "kafka") {
      ctx.addIssue({ code: "custom", path: ["dead_letter", "brokers"], message: "missing: the source is not Kafka, so the dead-letter topic needs its own brokers" });
    }
    if (c.engine.sampler.type === "mlm" && c.scorer !== undefined && c.scorer.type !== "local" && c.engine.mlm_model === undefined) {
      // The bundled masked LM only fits the bundled tokenizer family; say so early.
      ctx.addIssue({ code: "custom", path: ["engine", "mlm_model"], message: "sampler mlm with an endpoint needs mlm_model: a masked LM directory whose vocabulary maps onto the served tokenizer" });
    }
  });

export type WorkerConfig = z.output<typeof workerConfigSchema>;

/** Where dead letters go when the config names no route (only allowed for non-Kafka sources). */
export const DEFAULT_DEAD_LETTERS = { type: "jsonl", path: "dead-letters.jsonl", fsync: true } as const;
export type WorkerConfigInput = z.input<typeof workerConfigSchema>;

/**
 * Loads and validates a worker config file; throws ConfigError naming the field. Relative paths
 * in it (model directories, source files, sinks) resolve against the file's own directory.
 */
export function loadWorkerConfig(file: string, env: Env = process.env): WorkerConfig {
  return resolveConfigPaths(workerConfigSchema, loadConfigFile(file, workerConfigSchema, { env }), dirname(resolve(file)));
}

/** One line per input file or directory the config names that does not exist (for `config check`). */
export function missingConfigInputs(cfg: WorkerConfig): string[] {
  return missingInputs(workerConfigSchema, cfg);
}

export function parseWorkerConfig(text: string, name = "(text)", env: Env = process.env): WorkerConfig {
  return parseConfigText(text, workerConfigSchema, { env, name });
}

/** One documented part of the config: a top-level section, or one `type` of a list/union section. */
export interface ConfigSection {
  /** Anchor and heading: `source-kafka`, `sampling`. */
  readonly id: string;
  /** Where it goes in the YAML: `source` (with type kafka), `sinks[]`, `sampling`. */
  readonly key: string;
  readonly type?: string;
  readonly title: string;
  readonly schema: z.ZodType;
  /** The file that declares the schema (edit there, then npm run config:docs). */
  readonly declaredIn: string;
  /** A YAML fragment of a whole config showing this part (validated by a test). */
  readonly example?: string;
}

/** The sections of a list of components (one per `type`), from their registrations. */
function componentSections(idPrefix: string, key: string, list: readonly Component<z.ZodType, never, unknown>[]): ConfigSection[] {
  return list.map((c) => ({ id: `${idPrefix}-${c.type}`, key, type: c.type, title: c.title, schema: c.schema, declaredIn: c.declaredIn, example: c.example }));
}

export const CONFIG_SECTIONS: readonly ConfigSection[] = [
  ...componentSections("source", "source", SOURCES),
  { id: "mapping", key: "mapping", title: "mapping", schema: mappingConfigSchema, declaredIn: "src/pipeline/mapping/mapper.ts", example: `mapping:
  preset: openai
  fields:
    tenant_id: metadata.org_id
    metadata.feature: request.metadata.feature` },
  { id: "sampling", key: "sampling", title: "sampling", schema: samplingConfigSchema, declaredIn: "src/pipeline/sampling/config.ts", example: `sampling:
  rate: 0.02
  per_model: { "gpt-4o*": 0.05 }
  per_tenant: { acme: 0.2 }
  rules:
    - { name: too_long, action: never, when: { prompt_chars: { min: 20000 } } }
    - { name: flagged, action: always, priority: 10, when: { tags_any: [flagged, complaint] } }
    - { name: unsure, action: always, when: { completion_logprob: { min_below: -6 } } }
  budget:
    attributions_per_minute: 120
    endpoint_tokens_per_second: 50000` },
  { id: "scorer", key: "scorer", title: "scorer", schema: scorerConfigSchema, declaredIn: "src/models/endpoint.ts", example: `scorer:
  type: vllm
  url: http://vllm:8000
  model: meta-llama/Llama-3.1-8B-Instruct
  tokenizer: /models/llama-3.1-8b` },
  { id: "engine", key: "engine", title: "engine", schema: engineSectionSchema, declaredIn: "src/attribution/config.ts, src/app/config.ts", example: `engine:
  method: { type: reagent, mode: joint, num_probes: 8, max_steps: 300 }
  sampler: pos
  segments:
    - { name: retrieved_context, start: "<doc>", end: "</doc>" }` },
  { id: "pipeline", key: "pipeline", title: "pipeline", schema: pipelineConfigSchema, declaredIn: "src/pipeline/config.ts", example: `pipeline:
  concurrency: 4
  max_in_flight_per_partition: 500
  drain_timeout_ms: 25000` },
  ...componentSections("sink", "sinks[]", SINKS),
  ...componentSections("dead-letter", "dead_letter", DEAD_LETTERS),
  { id: "otel", key: "otel", title: "otel", schema: otelConfigSchema, declaredIn: "connectors/otel/config.ts", example: `otel:
  enabled: true
  endpoint: http://otel-collector:4318` },
  { id: "logging", key: "logging", title: "logging", schema: loggingConfigSchema, declaredIn: "src/app/config.ts", example: `logging:
  level: info
  stats_interval_ms: 60000` },
];

/** JSON Schema (draft 2020-12) of the worker config file. */
export function workerConfigJsonSchema(): Record<string, unknown> {
  return {
    $id: "https://reagent-stream.dev/schemas/config.schema.json",
    title: "reagent-stream worker config",
    description: "Generated from the component schemas (src/app/config.ts); regenerate with npm run config:docs",
    ...z.toJSONSchema(workerConfigSchema, { io: "input", unrepresentable: "any" }),
  };
}

/** Valid but dubious settings: one line each, printed by `config check` and logged at start. */
export function configWarnings(c: WorkerConfig): string[] {
  const w: string[] = deprecationsOf(c).map((d) => d.message);
  if (c.source.type === "kafka") {
    if (c.sampling.rate >= 0.5 && c.sampling.budget === undefined && c.pipeline.attribution === "on") {
      w.push(`sampling.rate ${c.sampling.rate} on a Kafka topic attributes that share of all traffic with no sampling.budget; attribution is far slower than logging`);
    }
    if (c.source.heartbeat_interval_ms * 3 > c.source.session_timeout_ms) {
      w.push("source.heartbeat_interval_ms should be at most a third of source.session_timeout_ms, or a slow network can cause rebalances");
    }
    if (c.sinks.some((s) => s.type === "jsonl")) w.push("a jsonl sink on a Kafka worker: give each worker its own file (e.g. path: results-${HOSTNAME}.jsonl)");
  }
  const m = c.engine.method;
  if (m.type === "reagent" && m.max_steps > 5000) w.push(`engine.method.max_steps ${m.max_steps} is above 5000: unconverged targets get that expensive`);
  if (c.pipeline.drain_timeout_ms >= 30_000) w.push(`pipeline.drain_timeout_ms ${c.pipeline.drain_timeout_ms} is not below Kubernetes' default 30 s grace period; the worker may be killed mid-drain`);
  return w;
}

/** A one-paragraph description of a valid config, for `config check`. */
export function describeConfig(c: WorkerConfig): string {
  const src = describeComponent(SOURCES, c.source);
  const scorer = c.scorer === undefined ? "none" : c.scorer.type === "local" ? `local ${c.scorer.path}` : `${c.scorer.type} ${redactUrl(c.scorer.url)}`;
  const sinks = c.sinks.length === 0 ? "none" : c.sinks.map((s) => describeComponent(SINKS, s)).join(", ");
  const dl = c.dead_letter === undefined ? `${DEFAULT_DEAD_LETTERS.type} ${DEFAULT_DEAD_LETTERS.path}` : describeComponent(DEAD_LETTERS, c.dead_letter);
  return [
    `source:      ${src}`,
    `mapping:     preset ${c.mapping.preset}${Object.keys(c.mapping.fields).length > 0 ? ` + ${Object.keys(c.mapping.fields).length} field overrides` : ""}`,
    `sampling:    rate ${c.sampling.rate}, ${c.sampling.rules.length} rules${c.sampling.budget ? ", budget" : ""}`,
    `attribution: ${c.pipeline.attribution === "off" ? "off" : `${c.engine.method.type} (${c.engine.method.type === "reagent" ? `${c.engine.method.mode}, ` : ""}sampler ${c.engine.sampler.type}, units ${c.engine.units.type}), scorer ${scorer}, concurrency ${c.pipeline.concurrency}`}`,
    `sinks:       ${sinks}`,
    `dead letters: ${dl}`,
    `otel:        ${c.otel === undefined ? "not configured" : "configured"}`,
  ].join("\n");
}

export const CONFIG_DOCS_INTRO = `
A worker reads one YAML file: \`reagent-stream run --config worker.yaml\`. Check a file without running it with
\`reagent-stream config check worker.yaml\`; a bad value exits 2 and names the field (\`sinks[0].path\`) and what
was expected. Every object is strict: an unknown key is an error (with a "did you mean" hint).

Relative paths (source files, checkpoints, model and tokenizer directories, TLS files, sink and dead-letter
files) resolve against the config file's directory, not the working directory. \`config check\` also reports,
one line each, every input file or directory the config names that does not exist (exit 2); outputs (sink
files, checkpoints, dead letters) are created with their parent directories when the worker opens them.

Values may use environment variables: \`\${NAME}\` (an error when unset), \`\${NAME:-default}\` (default when unset
or empty), \`\${NAME-default}\` (default when unset); \`$\${\` is a literal \`\${\`. A value that is exactly one
variable takes its YAML type (\`\${PORT:-9092}\` is a number). Substitution happens after YAML parsing, so a value
cannot inject YAML.

Top-level keys: \`source\` (required), \`mapping\`, \`sampling\`, \`scorer\` (required unless
\`pipeline.attribution: off\`), \`engine\`, \`pipeline\`, \`sinks\`, \`dead_letter\` (required for Kafka
sources), \`otel\`, \`logging\`. A commented example is \`deploy/config/example.yaml\`; the JSON Schema of the whole
file is \`schemas/config.schema.json\` (also \`reagent-stream config schema\`). How the parts work together:
docs/pipeline.md.
`;

/** The generated files: docs/config.md and the JSON Schemas (config, record, result), from the zod schemas. */
export function generatedFiles(root: string): { path: string; content: string }[] {
  return [
    {
      path: resolve(root, "docs/config.md"),
      content: renderConfigDocs(CONFIG_SECTIONS, { title: "Worker configuration reference", intro: CONFIG_DOCS_INTRO, generator: "npm run config:docs" }),
    },
    { path: resolve(root, "schemas/config.schema.json"), content: `${JSON.stringify(workerConfigJsonSchema(), null, 2)}\n` },
    { path: resolve(root, "schemas/llm-log-record.schema.json"), content: `${JSON.stringify(llmLogRecordJsonSchema(), null, 2)}\n` },
    { path: resolve(root, "schemas/attribution-result.schema.json"), content: `${JSON.stringify(attributionResultJsonSchema(), null, 2)}\n` },
  ];
}

function readOr(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/** Writes (or, with check, compares) the generated files; returns the stale ones. */
export function writeGeneratedFiles(root: string, check: boolean): string[] {
  const stale: string[] = [];
  for (const f of generatedFiles(root)) {
    if (readOr(f.path) === f.content) continue;
    stale.push(f.path);
    if (!check) writeFileSync(f.path, f.content);
  }
  return stale;
}
