/**
 * The `otel:` section of the worker config, and how it combines with the standard `OTEL_*`
 * environment variables. Exporting is off unless configured: `enabled: true` in YAML, or an
 * OTLP endpoint in the environment (`OTEL_EXPORTER_OTLP_ENDPOINT` or a per-signal one).
 *
 * @see docs/otel.md
 */
import { z } from "zod";
import { parseConfig } from "../../src/config-issues.js";

export const prometheusConfigSchema = z
  .object({
    enabled: z.boolean().default(false).describe("Serve the metrics on a Prometheus scrape endpoint (GET http://host:port/metrics)"),
    host: z.string().min(1).default("127.0.0.1").describe("Interface the scrape endpoint listens on; 0.0.0.0 to expose it beyond this host"),
    port: z.number().int().min(1).max(65_535).default(9464),
  })
  .strict();

/** How much prompt/completion text an attribution span may carry (the sinks' `store_text` vocabulary). */
export const spanTextPolicies = ["none", "redacted", "full"] as const;
export type SpanTextPolicy = (typeof spanTextPolicies)[number];

export const phoenixAnnotationsSchema = z
  .object({
    url: z.url({ protocol: /^https?$/ }).describe("Phoenix base URL (http://phoenix:6006); annotations go to POST {url}/v1/span_annotations"),
    api_key_env: z.string().min(1).optional().describe("Environment variable holding a Phoenix API key (sent as a bearer token; never logged)"),
  })
  .strict();

export const langfuseScoresSchema = z
  .object({
    url: z.url({ protocol: /^https?$/ }).describe("Langfuse base URL (https://cloud.langfuse.com); scores go to POST {url}/api/public/scores"),
    public_key_env: z.string().min(1).default("LANGFUSE_PUBLIC_KEY").describe("Environment variable holding the Langfuse public key (basic-auth user)"),
    secret_key_env: z.string().min(1).default("LANGFUSE_SECRET_KEY").describe("Environment variable holding the Langfuse secret key (basic-auth password; never logged)"),
  })
  .strict();

export const annotationsConfigSchema = z
  .object({
    phoenix: phoenixAnnotationsSchema.optional().describe("Write each attribution as a span annotation on the logged LLM span in Arize Phoenix"),
    langfuse: langfuseScoresSchema.optional().describe("Write each attribution as a score on the logged trace/observation in Langfuse"),
    timeout_ms: z.number().int().min(1).max(600_000).default(10_000).describe("Per annotation request"),
    max_queue_size: z.number().int().min(1).max(1_000_000).default(2048).describe("Annotations waiting to be sent before new ones are dropped (counted)"),
    max_batch_size: z.number().int().min(1).max(1000).default(100).describe("Annotations per request"),
    schedule_delay_ms: z.number().int().min(1).max(600_000).default(2000).describe("Longest wait before a partial batch is sent"),
  })
  .strict();

export const otelConfigSchema = z
  .object({
    enabled: z
      .boolean()
      .optional()
      .describe("Export spans, metrics and evaluation events over OTLP/HTTP (protobuf). Unset: on exactly when OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_{TRACES,METRICS,LOGS}_ENDPOINT) is set"),
    endpoint: z
      .url({ protocol: /^https?$/ })
      .optional()
      .describe("OTLP/HTTP base URL (as OTEL_EXPORTER_OTLP_ENDPOINT): /v1/traces, /v1/metrics and /v1/logs are appended. Overrides the environment"),
    headers: z
      .record(z.string(), z.string())
      .default({})
      .describe("Extra request headers, merged over OTEL_EXPORTER_OTLP_HEADERS (these win)"),
    service_name: z.string().min(1).optional().describe("service.name of the exported resource; default OTEL_SERVICE_NAME, else reagent-stream"),
    export_timeout_ms: z.number().int().min(1).max(600_000).default(10_000).describe("Per export request, retries included"),
    shutdown_timeout_ms: z.number().int().min(1).max(600_000).default(5_000).describe("shutdown() returns by this deadline; what is still unsent then is dropped and counted"),
    metric_export_interval_ms: z.number().int().min(100).default(60_000).describe("How often metrics are pushed over OTLP (the Prometheus endpoint is read on scrape)"),
    span_parent: z
      .enum(["child", "link"])
      .default("child")
      .describe("child: the attribution span is a child of the logged LLM span (and links to it); link: it starts a new trace that links to the logged span"),
    max_spans: z.number().int().min(0).max(64).default(10).describe("Top attribution spans put on the span (parallel arrays reagent.spans.*)"),
    max_segments: z.number().int().min(0).max(64).default(16).describe("Segment shares put on the span, largest first"),
    sequence_max_len: z
      .number()
      .int()
      .min(0)
      .max(1024)
      .default(64)
      .describe("Longest reagent.sequence.importance array; longer prompts are summed into equal bins of reagent.sequence.bin_size tokens; 0 leaves it out"),
    attribute_value_length_limit: z
      .number()
      .int()
      .min(32)
      .max(1_048_576)
      .optional()
      .describe("Longest string attribute value (UTF-16 units; each array element separately); default OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT, OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT, else 1024"),
    span_text: z
      .enum(spanTextPolicies)
      .optional()
      .describe(
        "Prompt/completion text on the span (reagent.spans.text, input.value, output.value, gen_ai.evaluation.explanation): none (offsets and shares only), redacted (e-mail addresses, credentials and long numbers masked, as the sinks' store_text: redacted), full. Default none",
      ),
    dangerously_capture_span_text: z
      .boolean()
      .default(false)
      .describe("Older spelling of span_text: full (used when span_text is not set)"),
    late_after_ms: z
      .number()
      .int()
      .min(0)
      .default(600_000)
      .describe(
        "An attribution that starts this long after the logged call (record timestamp) goes on a new trace that links to the logged span, instead of stretching the original trace; 0: never",
      ),
    standard_attributes: z
      .boolean()
      .default(true)
      .describe("Also set gen_ai.provider.name, gen_ai.request.model, gen_ai.response.id and gen_ai.operation.name where the record has them"),
    evaluation_events: z
      .boolean()
      .default(false)
      .describe(
        "Emit one gen_ai.evaluation.result log record per attribution (OTLP logs). A backend that refuses OTLP logs (HTTP 404/405/415, e.g. Phoenix) is asked once; the result stays on the span (gen_ai.evaluation.*)",
      ),
    annotations: annotationsConfigSchema.optional().describe("Also write each attribution to a backend's own evaluation API (Phoenix span annotations, Langfuse scores)"),
    max_queue_size: z.number().int().min(1).max(1_000_000).default(2048).describe("Spans (and log records) buffered before new ones are dropped (counted)"),
    max_export_batch_size: z.number().int().min(1).max(100_000).default(512),
    schedule_delay_ms: z.number().int().min(1).max(600_000).default(2000).describe("Batch span processor: longest wait before a partial batch is sent"),
    prometheus: prometheusConfigSchema.prefault({}),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    if (cfg.max_export_batch_size > cfg.max_queue_size) {
      ctx.addIssue({ code: "custom", path: ["max_export_batch_size"], message: "must not exceed max_queue_size" });
    }
  });

export type OtelConfig = z.infer<typeof otelConfigSchema>;
export type OtelConfigInput = z.input<typeof otelConfigSchema>;
export type AnnotationsConfig = z.infer<typeof annotationsConfigSchema>;

/** The effective text policy: span_text, else full when dangerously_capture_span_text is on, else none. */
export function spanTextPolicy(cfg: OtelConfig): SpanTextPolicy {
  return cfg.span_text ?? (cfg.dangerously_capture_span_text ? "full" : "none");
}

/** Validate the `otel:` section; a bad value throws ConfigError naming `otel.<field>`. */
export function parseOtelConfig(input: unknown): OtelConfig {
  return parseConfig(otelConfigSchema, input ?? {}, { what: "reading the otel config", path: "otel" });
}

export const DEFAULT_ATTRIBUTE_VALUE_LENGTH_LIMIT = 1024;
export const DEFAULT_SERVICE_NAME = "reagent-stream";

type Env = Readonly<Record<string, string | undefined>>;

/** What createOtelExporter will actually do, after YAML and environment are combined. */
export interface OtelSettings {
  readonly config: OtelConfig;
  /** OTLP export at all (YAML `enabled`, else an endpoint in the environment; OTEL_SDK_DISABLED=true turns it off). */
  readonly otlp: boolean;
  readonly traces: boolean;
  readonly metricsOtlp: boolean;
  /** Evaluation events over OTLP logs. */
  readonly logs: boolean;
  readonly prometheus: boolean;
  /** Phoenix annotations and/or Langfuse scores are written. */
  readonly annotations: boolean;
  /** Signal URLs from YAML `endpoint`; undefined lets the exporter read the environment (default http://localhost:4318/v1/<signal>). */
  readonly urls: { readonly traces?: string; readonly metrics?: string; readonly logs?: string };
  /** service.name when YAML sets it (otherwise the environment's OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES, else the default). */
  readonly serviceName: string | undefined;
  readonly attributeValueLengthLimit: number;
}

function envSet(env: Env, key: string): boolean {
  const v = env[key];
  return v !== undefined && v.trim() !== "";
}

function envIsNone(env: Env, key: string): boolean {
  return (env[key] ?? "").split(",").map((s) => s.trim().toLowerCase()).includes("none");
}

function positiveIntFromEnv(env: Env, key: string): number | undefined {
  const raw = env[key];
  if (raw === undefined || raw.trim() === "") return undefined;
  const n = Number(raw);
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

function signalUrl(base: string, signalPath: string): string {
  return `${base.endsWith("/") ? base : `${base}/`}${signalPath}`;
}

/** Combine the parsed `otel:` section with the environment (process.env unless given). */
export function resolveOtelSettings(config: OtelConfig, env: Env = process.env): OtelSettings {
  const sdkDisabled = (env.OTEL_SDK_DISABLED ?? "").trim().toLowerCase() === "true";
  const endpointInEnv = ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"].some(
    (k) => envSet(env, k),
  );
  const otlp = !sdkDisabled && (config.enabled ?? (config.endpoint !== undefined || endpointInEnv));
  const base = config.endpoint;
  return {
    config,
    otlp,
    traces: otlp && !envIsNone(env, "OTEL_TRACES_EXPORTER"),
    metricsOtlp: otlp && !envIsNone(env, "OTEL_METRICS_EXPORTER"),
    logs: otlp && config.evaluation_events && !envIsNone(env, "OTEL_LOGS_EXPORTER"),
    prometheus: !sdkDisabled && config.prometheus.enabled,
    annotations: !sdkDisabled && (config.annotations?.phoenix !== undefined || config.annotations?.langfuse !== undefined),
    urls: base === undefined ? {} : { traces: signalUrl(base, "v1/traces"), metrics: signalUrl(base, "v1/metrics"), logs: signalUrl(base, "v1/logs") },
    serviceName: config.service_name,
    attributeValueLengthLimit:
      config.attribute_value_length_limit ??
      positiveIntFromEnv(env, "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT") ??
      positiveIntFromEnv(env, "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT") ??
      DEFAULT_ATTRIBUTE_VALUE_LENGTH_LIMIT,
  };
}
