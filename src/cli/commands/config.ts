/**
 * The worker config (one YAML file) and `reagent-stream config check|schema`.
 *
 * The root schema is assembled from the schema each component declares next to its code
 * (connectors/kafka/config.ts, connectors/file/source.ts, src/pipeline/sampling/config.ts,
 * src/models/endpoint.ts, connectors/otel/config.ts, …). docs/config.md and
 * schemas/config.schema.json are generated from `CONFIG_SECTIONS` (npm run config:docs).
 *
 * @see docs/config.md
 */
import type { Command } from "commander";
import { z } from "zod";
import { engineConfigSchema } from "../../attribution/config.js";
import { fileSourceConfigSchema } from "../../../connectors/file/source.js";
import { jsonlSinkConfigSchema } from "../../../connectors/file/jsonl-sink.js";
import { jsonlDeadLetterConfigSchema } from "../../../connectors/dead-letter/jsonl.js";
import { kafkaDeadLetterConfigSchema, kafkaSourceConfigSchema } from "../../../connectors/kafka/config.js";
import { otelConfigSchema } from "../../../connectors/otel/config.js";
import { clickhouseSinkConfigSchema, duckdbSinkConfigSchema } from "../../../connectors/sink-common/factory.js";
import { stdinSourceConfigSchema } from "../../../connectors/stdin/source.js";
import { ConfigError } from "../../errors.js";
import { scorerConfigSchema } from "../../models/endpoint.js";
import { loadConfigFile, parseConfigText, type Env } from "../../pipeline/config-loader.js";
import { pipelineConfigSchema } from "../../pipeline/config.js";
import { mappingConfigSchema } from "../../pipeline/mapping/mapper.js";
import { samplingConfigSchema } from "../../pipeline/sampling/config.js";
import { segmentRuleSchema } from "../../text/segments.js";

export const sourceConfigSchema = z.discriminatedUnion("type", [kafkaSourceConfigSchema, fileSourceConfigSchema, stdinSourceConfigSchema]);
export const sinkConfigSchema = z.discriminatedUnion("type", [clickhouseSinkConfigSchema, duckdbSinkConfigSchema, jsonlSinkConfigSchema]);
export const deadLetterConfigSchema = z.discriminatedUnion("type", [kafkaDeadLetterConfigSchema, jsonlDeadLetterConfigSchema]);

export const engineSectionSchema = engineConfigSchema
  .extend({
    segments: z.array(segmentRuleSchema).default([]).describe("Named prompt segments (marker pairs or regular expressions) whose importance share is reported"),
    max_spans: z.number().int().min(1).max(64).default(5).describe("Top prompt spans kept per result"),
    mlm_model: z.string().min(1).optional().describe("Masked LM directory for sampler mlm (default: the bundled models/tiny-mlm)"),
    use_logged_token_ids: z
      .boolean()
      .default(false)
      .describe("Attribute the completion token ids from the log instead of re-tokenising its text (only when the log came from the same tokenizer)"),
    cache_dir: z.string().min(1).optional().describe("Where the POS table is cached (default .cache/reagent-stream or REAGENT_CACHE_DIR)"),
  })
  .describe("Attribution engine settings (src/attribution/config.ts) plus how records are prepared for it");

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
      ctx.addIssue({ code: "custom", path: ["scorer"], message: "missing: attribution needs a scorer (kind: local with path: models/tiny-lm, or an endpoint); or set pipeline.attribution: off" });
    }
    if (on && c.sinks.length === 0) ctx.addIssue({ code: "custom", path: ["sinks"], message: "no sinks: results would go nowhere; add one (type: jsonl, path: results.jsonl)" });
    if (c.source.type === "kafka" && c.dead_letter === undefined) {
      ctx.addIssue({ code: "custom", path: ["dead_letter"], message: "missing: a Kafka source needs a dead-letter route (type: kafka with topic, or type: jsonl with path)" });
    }
    if (c.dead_letter?.type === "kafka" && c.dead_letter.brokers === undefined && c.source.type !== "kafka") {
      ctx.addIssue({ code: "custom", path: ["dead_letter", "brokers"], message: "missing: the source is not Kafka, so the dead-letter topic needs its own brokers" });
    }
    if (c.engine.sampler === "mlm" && c.scorer?.kind !== undefined && c.scorer.kind !== "local" && c.engine.mlm_model === undefined) {
      // The bundled masked LM only fits the bundled tokenizer family; say so early.
      ctx.addIssue({ code: "custom", path: ["engine", "mlm_model"], message: "sampler mlm with an endpoint needs mlm_model: a masked LM directory whose vocabulary maps onto the served tokenizer" });
    }
  });

export type WorkerConfig = z.output<typeof workerConfigSchema>;
export type WorkerConfigInput = z.input<typeof workerConfigSchema>;

/** Loads and validates a worker config file; throws ConfigError naming the field. */
export function loadWorkerConfig(file: string, env: Env = process.env): WorkerConfig {
  return loadConfigFile(file, workerConfigSchema, { env });
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
}

export const CONFIG_SECTIONS: readonly ConfigSection[] = [
  { id: "source-kafka", key: "source", type: "kafka", title: "source: kafka", schema: kafkaSourceConfigSchema, declaredIn: "connectors/kafka/config.ts" },
  { id: "source-file", key: "source", type: "file", title: "source: file", schema: fileSourceConfigSchema, declaredIn: "connectors/file/source.ts" },
  { id: "source-stdin", key: "source", type: "stdin", title: "source: stdin", schema: stdinSourceConfigSchema, declaredIn: "connectors/stdin/source.ts" },
  { id: "mapping", key: "mapping", title: "mapping", schema: mappingConfigSchema, declaredIn: "src/pipeline/mapping/mapper.ts" },
  { id: "sampling", key: "sampling", title: "sampling", schema: samplingConfigSchema, declaredIn: "src/pipeline/sampling/config.ts" },
  { id: "scorer", key: "scorer", title: "scorer", schema: scorerConfigSchema, declaredIn: "src/models/endpoint.ts" },
  { id: "engine", key: "engine", title: "engine", schema: engineSectionSchema, declaredIn: "src/attribution/config.ts, src/cli/commands/config.ts" },
  { id: "pipeline", key: "pipeline", title: "pipeline", schema: pipelineConfigSchema, declaredIn: "src/pipeline/config.ts" },
  { id: "sink-clickhouse", key: "sinks[]", type: "clickhouse", title: "sinks: clickhouse", schema: clickhouseSinkConfigSchema, declaredIn: "connectors/clickhouse/config.ts" },
  { id: "sink-duckdb", key: "sinks[]", type: "duckdb", title: "sinks: duckdb", schema: duckdbSinkConfigSchema, declaredIn: "connectors/duckdb/config.ts" },
  { id: "sink-jsonl", key: "sinks[]", type: "jsonl", title: "sinks: jsonl", schema: jsonlSinkConfigSchema, declaredIn: "connectors/file/jsonl-sink.ts" },
  { id: "dead-letter-kafka", key: "dead_letter", type: "kafka", title: "dead_letter: kafka", schema: kafkaDeadLetterConfigSchema, declaredIn: "connectors/kafka/config.ts" },
  { id: "dead-letter-jsonl", key: "dead_letter", type: "jsonl", title: "dead_letter: jsonl", schema: jsonlDeadLetterConfigSchema, declaredIn: "connectors/dead-letter/jsonl.ts" },
  { id: "otel", key: "otel", title: "otel", schema: otelConfigSchema, declaredIn: "connectors/otel/config.ts" },
  { id: "logging", key: "logging", title: "logging", schema: loggingConfigSchema, declaredIn: "src/cli/commands/config.ts" },
];

/** JSON Schema (draft 2020-12) of the worker config file. */
export function workerConfigJsonSchema(): Record<string, unknown> {
  return {
    $id: "https://reagent-stream.dev/schemas/config.schema.json",
    title: "reagent-stream worker config",
    description: "Generated from the component schemas (src/cli/commands/config.ts); regenerate with npm run config:docs",
    ...z.toJSONSchema(workerConfigSchema, { io: "input", unrepresentable: "any" }),
  };
}

/** A one-paragraph description of a valid config, for `config check`. */
export function describeConfig(c: WorkerConfig): string {
  const src =
    c.source.type === "kafka"
      ? `kafka ${c.source.topics.join(",")} (group ${c.source.group_id})`
      : c.source.type === "file"
        ? `file ${typeof c.source.path === "string" ? c.source.path : c.source.path.join(", ")}`
        : "stdin";
  const scorer = c.scorer === undefined ? "none" : c.scorer.kind === "local" ? `local ${c.scorer.path ?? ""}` : `${c.scorer.kind} ${c.scorer.url ?? ""}`;
  const sinks = c.sinks.length === 0 ? "none" : c.sinks.map((s) => `${s.type} ${s.type === "clickhouse" ? `${s.url} ${s.database}` : s.path}`).join(", ");
  const dl = c.dead_letter === undefined ? "jsonl dead-letters.jsonl" : c.dead_letter.type === "kafka" ? `kafka ${c.dead_letter.topic}` : `jsonl ${c.dead_letter.path}`;
  return [
    `source:      ${src}`,
    `mapping:     preset ${c.mapping.preset}${Object.keys(c.mapping.fields).length > 0 ? ` + ${Object.keys(c.mapping.fields).length} field overrides` : ""}`,
    `sampling:    rate ${c.sampling.rate}, ${c.sampling.rules.length} rules${c.sampling.budget ? ", budget" : ""}`,
    `attribution: ${c.pipeline.attribution === "off" ? "off" : `${c.engine.method} (${c.engine.method === "reagent" ? `${c.engine.mode}, ` : ""}sampler ${c.engine.sampler}), scorer ${scorer}, concurrency ${c.pipeline.concurrency}`}`,
    `sinks:       ${sinks}`,
    `dead letters: ${dl}`,
    `otel:        ${c.otel === undefined ? "not configured" : "configured"}`,
  ].join("\n");
}

export function registerConfig(program: Command): void {
  const cmd = program.command("config").description("Validate and describe worker config files");
  cmd
    .command("check")
    .description("Validate a worker config (YAML) without running it; exits 2 naming each bad field")
    .argument("<file>", "config file")
    .option("--quiet", "print nothing when it is valid")
    .action((file: string, flags: { quiet?: boolean }) => {
      let cfg: WorkerConfig;
      try {
        cfg = loadWorkerConfig(file);
      } catch (err) {
        if (err instanceof ConfigError) {
          process.stderr.write(`reagent-stream: ${err.message}\n`);
          process.exitCode = 2;
          return;
        }
        throw err;
      }
      if (!flags.quiet) process.stdout.write(`${file}: valid\n${describeConfig(cfg)}\n`);
    });
  cmd
    .command("schema")
    .description("Print the JSON Schema of the worker config")
    .action(() => {
      process.stdout.write(`${JSON.stringify(workerConfigJsonSchema(), null, 2)}\n`);
    });
}
