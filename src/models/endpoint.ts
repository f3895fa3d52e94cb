/**
 * Where the model lives: a local ONNX directory or a scoring endpoint. `--model` strings
 * (`models/tiny-lm`, `vllm+http://gpu-1:8000/meta-llama/Llama-3.1-8B`, `sglang+http://…`,
 * `tgi+http://…`, `openai+https://api.example/v1/davinci-002`) and the `scorer:` section of the
 * worker config both end up as a ScorerConfig, and `loadAttributionModel` turns either into an
 * AttributionModel: scorer + tokenizer + chat template + BOS rule.
 *
 * Endpoints need a local tokenizer (`tokenizer:` / `--tokenizer <dir>` holding tokenizer.json):
 * the engine needs character offsets, which no server tokenize route gives. The start-up
 * self-test checks that it agrees with the server's own tokenizer.
 *
 * Servers that cannot score a given continuation are refused here, with the reason and what
 * would work instead.
 *
 * @see docs/endpoints.md
 */
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { z } from "zod";
import type { AttributionModel } from "../attribution/engine.js";
import { renamedFields } from "../config-aliases.js";
import { parseConfig } from "../config-issues.js";
import { ConfigError, ScorerMismatchError, ScorerUnsupportedError } from "../errors.js";
import { retrySchema } from "../retry.js";
import type { ChatTemplate } from "../text/chat-template.js";
import { HfTextTokenizer } from "../text/tokenizer.js";
import { CompletionsProtocol } from "./http/completions.js";
import { RequestGuard, type ScorerEvent } from "./http/guard.js";
import { HttpScorer } from "./http/http-scorer.js";
import { serverKinds, type ScoringProtocol, type ServerKind } from "./http/protocol.js";
import { detectServer, formatSelfTestReport, runSelfTest, type DetectedKind, type SelfTestCheck, type SelfTestReport, type ServerProbe } from "./http/self-test.js";
import { SglangProtocol } from "./http/sglang.js";
import { TgiProtocol, detectTgiServerBos } from "./http/tgi.js";
import { TokenStrings } from "./http/tokens.js";
import { HttpTransport } from "./http/transport.js";
import { LlamaCppPythonProtocol, detectLlamaCppPythonBos, llamaCppPythonFinalError } from "./http/llama-cpp-python.js";
import { findChatTemplate, loadLocalModel } from "./local-model.js";
import { onnxLmConfigSchema } from "./onnx/onnx-scorer.js";
import type { Scorer } from "../attribution/scorer.js";
import { fsPath } from "../config-paths.js";

export { serverKinds, type ServerKind } from "./http/protocol.js";

/** Servers people will point us at that cannot score a given continuation: why, and what works. */
export const refusedServers: Readonly<Record<string, { readonly name: string; readonly why: string }>> = {
  "openai-chat": {
    name: "OpenAI chat/responses models",
    why: "chat and responses APIs return logprobs for generated tokens only, never for a given continuation (no echo, no prompt logprobs)",
  },
  anthropic: { name: "Anthropic", why: "the Messages API returns no logprobs at all (its OpenAI compatibility layer ignores logprobs)" },
  ollama: { name: "Ollama", why: "it returns logprobs for generated tokens only: no echo, no token-id prompts, no prompt logprobs" },
  llamacpp: {
    name: "llama.cpp llama-server",
    why: 'it rejects echo ("Only no echo is supported") and gives logprobs for generated tokens only; serve the same GGUF with llama-cpp-python instead (python -m llama_cpp.server --model M.gguf, then llama-cpp-python+http://…)',
  },
  lmstudio: { name: "LM Studio", why: "it returns no prompt logprobs (chat-completions logprobs are stubbed)" },
};
const refusedAliases: Readonly<Record<string, string>> = { "llama.cpp": "llamacpp", "llama-cpp": "llamacpp", "llama-server": "llamacpp", claude: "anthropic", chatgpt: "openai-chat" };

const WHAT_WORKS =
  "serve the same weights with vLLM (vllm+http://…), SGLang (sglang+http://…) or TGI with --enable-prefill-logprobs (tgi+http://…), or export them to ONNX and use a local model directory; try the HTTP path locally with `reagent-stream serve-model`";

function refuse(kind: string, what: string): never {
  const r = refusedServers[refusedAliases[kind] ?? kind] as { name: string; why: string };
  throw new ScorerUnsupportedError({ what, why: `${r.name} cannot score a given continuation: ${r.why}; ${WHAT_WORKS}`, details: { kind } });
}

/** A parsed `--model` string. */
export type ModelSpec = { readonly type: "local"; readonly path: string } | { readonly type: ServerKind; readonly url: string; readonly model?: string };

/**
 * Parse `--model`: a local directory, or `<kind>+<http|https>://host[:port][/prefix][/v1]/<model name>`.
 * The model name may contain slashes; a `/v1` segment separates a gateway prefix from it.
 */
export function parseModelSpec(spec: string): ModelSpec {
  const what = `reading --model ${JSON.stringify(redactSpec(spec))}`;
  const m = /^([A-Za-z][A-Za-z0-9._-]*)\+(https?:\/\/.*)$/.exec(spec.trim());
  if (!m) {
    if (/^[a-z]+:\/\//i.test(spec.trim())) {
      throw new ConfigError({
        what,
        why: `say which server speaks at this URL: ${serverKinds.map((k) => `${k}+${spec.trim()}`).slice(0, 2).join(", ")}, … (kinds: ${serverKinds.join(", ")})`,
        path: "model",
        expected: `<kind>+http(s)://host:port/<model>, kind one of ${serverKinds.join(", ")}`,
      });
    }
    return { type: "local", path: spec };
  }
  const kind = (m[1] as string).toLowerCase();
  if (refusedServers[kind] !== undefined || refusedAliases[kind] !== undefined) refuse(kind, what);
  if (!(serverKinds as readonly string[]).includes(kind)) {
    throw new ConfigError({ what, why: `unknown server kind "${kind}"; valid: ${serverKinds.join(", ")}`, path: "model", expected: serverKinds.join(" | ") });
  }
  let url: URL;
  try {
    url = new URL(m[2] as string);
  } catch {
    throw new ConfigError({ what, why: "the URL does not parse", path: "model" });
  }
  if (url.search !== "" || url.hash !== "") {
    throw new ConfigError({ what, why: "query strings and fragments are not read; put settings in the scorer config", path: "model" });
  }
  const path = decodeURIComponent(url.pathname).replace(/^\/+|\/+$/g, "");
  const segs = path === "" ? [] : path.split("/");
  const v1 = segs.indexOf("v1");
  const prefix = v1 >= 0 ? segs.slice(0, v1) : [];
  const model = (v1 >= 0 ? segs.slice(v1 + 1) : segs).join("/");
  const auth = url.username !== "" ? `${url.username}${url.password !== "" ? `:${url.password}` : ""}@` : "";
  const base = `${url.protocol}//${auth}${url.host}${prefix.length > 0 ? `/${prefix.join("/")}` : ""}`;
  return { type: kind as ServerKind, url: base, ...(model === "" ? {} : { model }) };
}

function redactSpec(spec: string): string {
  return spec.replace(/\/\/([^/@]*)@/, "//[redacted]@");
}

const rateLimitSchema = z
  .object({
    requests_per_second: z.number().positive().optional().describe("Token bucket on requests sent"),
    prompt_tokens_per_second: z.number().positive().optional().describe("Token bucket on prompt tokens sent"),
    burst_seconds: z.number().positive().default(1).describe("Bucket size, in seconds of rate"),
  })
  .strict();

const breakerSchema = z
  .object({
    failure_threshold: z.number().int().min(1).default(5).describe("Consecutive server-side failures (5xx, timeouts, connection errors, unreadable bodies) that open the breaker"),
    cool_down_ms: z.number().int().min(0).default(30_000).describe("How long the breaker stays open before one probe call"),
  })
  .strict();

const localScorerSchema = z
  .object({
    type: z.literal("local").describe("An ONNX model directory, scored in process"),
    path: z.string({ error: "type local needs path (the model directory)" }).min(1).meta(fsPath("input-dir")).describe("The model directory (model.onnx, config.json, tokenizer.json)"),
    intra_op_threads: z.number().int().min(1).optional().describe("onnxruntime threads"),
  })
  .strict();

/** What every scoring endpoint takes; each server type adds its own knobs. */
function endpointFields<T extends ServerKind>(type: T) {
  return {
    type: z.literal(type),
    url: z.url({ protocol: /^https?$/, error: (i) => (i.input === undefined ? `type ${type} needs url` : undefined) }).describe("Base URL (scheme, host, port, optional gateway prefix; no /v1)"),
    model: z.string().min(1).optional().describe("The served model name; default: the only model the server lists"),
    tokenizer: z
      .string({ error: (i) => (i.input === undefined ? `type ${type} needs tokenizer: a directory with the served model's tokenizer.json` : undefined) })
      .min(1)
      .meta(fsPath("input-dir"))
      .describe("Directory with the served model's tokenizer.json (offsets need it)"),
    add_bos: z.boolean().optional().describe("Prepend BOS to prompts; default: the tokenizer directory's config (prepend_bos / add_bos_token)"),
    api_key_env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/).optional().describe("Environment variable holding the API key (sent as Authorization: Bearer; never logged). Default REAGENT_SCORER_API_KEY when set"),
    api_key: z.string().min(1).optional().describe("The API key itself; prefer api_key_env"),
    timeout_ms: z.number().int().positive().default(30_000).describe("Per request attempt"),
    max_concurrency: z.number().int().min(1).default(4).describe("Requests in flight at once"),
    max_batch: z.number().int().min(1).optional().describe("Sequences per request (vllm, sglang: 32; openai: 16; tgi, llama-cpp-python: always 1)"),
    max_top_k: z.number().int().min(1).optional().describe("Largest top-k the server returns (vllm/sglang/llama-cpp-python: 20, openai/tgi: 5)"),
    retry: retrySchema({ max_attempts: 4, initial_backoff_ms: 250, max_backoff_ms: 8_000 }, "One HTTP call (on 429, 5xx but 501/505, 408, timeouts, connection errors, unreadable bodies)"),
    max_retry_after_ms: z.number().int().min(0).default(60_000).describe("A longer Retry-After fails the call instead of waiting"),
    rate_limit: rateLimitSchema.prefault({}),
    breaker: breakerSchema.prefault({}),
    self_test: z.enum(["fail", "warn", "off"]).default("fail").describe("Start-up self-test: refuse to start on failure, only warn, or skip"),
  };
}

const echoMaxTokens = (dflt: 0 | 1) =>
  z.union([z.literal(0), z.literal(1)]).optional().describe(`max_tokens sent with echo (0 where the server allows it); default ${dflt}`);

const endpointSchemas = [
  z.object(endpointFields("vllm")).strict().describe("vLLM's completions route with prompt_logprobs"),
  z.object({ ...endpointFields("vllm-echo"), echo_max_tokens: echoMaxTokens(0) }).strict().describe("vLLM (or compatible) through echo + logprobs"),
  z.object(endpointFields("sglang")).strict().describe("SGLang's /generate with input logprobs"),
  z
    .object({
      ...endpointFields("tgi"),
      tgi_top_k: z.enum(["probe", "bound"]).default("probe").describe("Exact top-k via one next-token request per position, or a cheap probability bound"),
    })
    .strict()
    .describe("Hugging Face TGI started with --enable-prefill-logprobs"),
  z.object({ ...endpointFields("openai"), echo_max_tokens: echoMaxTokens(1) }).strict().describe("An OpenAI-compatible completions API with echo + logprobs"),
  z
    .object({
      ...endpointFields("llama-cpp-python"),
      // It runs one request at a time and spends ~60 ms of Python per echoed token: seconds per sequence.
      timeout_ms: z.number().int().positive().default(300_000).describe("Per request attempt, queueing at the server included (it spends seconds per sequence)"),
      max_concurrency: z.number().int().min(1).default(2).describe("Requests in flight at once (the server runs one at a time; a second hides the round trip)"),
    })
    .strict()
    .describe("llama-cpp-python's server (python -m llama_cpp.server): text prompts, sequences that start with BOS"),
] as const;

/** The old `retries:` block: base/max_delay_ms are the retry shape's backoff fields; max_retry_after_ms moved up. */
function upgradeRetries(value: unknown, holder: Readonly<Record<string, unknown>>): unknown {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return value;
  const { base_delay_ms, max_delay_ms, max_retry_after_ms, ...rest } = value as Record<string, unknown>;
  if (max_retry_after_ms !== undefined && holder.max_retry_after_ms === undefined) (holder as Record<string, unknown>).max_retry_after_ms = max_retry_after_ms;
  return { ...rest, ...(base_delay_ms === undefined ? {} : { initial_backoff_ms: base_delay_ms }), ...(max_delay_ms === undefined ? {} : { max_backoff_ms: max_delay_ms }) };
}

/**
 * The `scorer:` section of the worker config (and what `--model` expands to): one option per
 * `type`, each with its own knobs. `kind` (the old discriminator) and the old `retries:` block
 * still work for this release, with a warning.
 */
export const scorerConfigSchema = renamedFields(
  z
    .discriminatedUnion("type", [localScorerSchema, ...endpointSchemas])
    .superRefine((c, ctx) => {
      if (c.type !== "local" && c.api_key !== undefined && c.api_key_env !== undefined) ctx.addIssue({ code: "custom", path: ["api_key"], message: "give api_key or api_key_env, not both" });
    }),
  [
    { from: "kind", to: "type" },
    { from: "retries", to: "retry", map: upgradeRetries, hint: "use retry: { max_attempts, initial_backoff_ms, max_backoff_ms } and max_retry_after_ms" },
  ],
);

export type ScorerConfig = z.infer<typeof scorerConfigSchema>;
export type ScorerConfigInput = z.input<typeof scorerConfigSchema>;
export type EndpointScorerConfig = Exclude<ScorerConfig, { type: "local" }>;
/** Settings a `--model` string does not carry (`--tokenizer`, `--threads`, knobs from flags); validated with it. */
export type ScorerExtras = Readonly<Record<string, unknown>>;

/** Validate a scorer section; errors name the field (`scorer.url`). Refused kinds fail with ScorerUnsupportedError. */
export function resolveScorerConfig(input: unknown, pathPrefix = "scorer"): ScorerConfig {
  const given = input as { type?: unknown; kind?: unknown } | null;
  const kind = given?.type ?? given?.kind;
  if (typeof kind === "string" && (refusedServers[kind] !== undefined || refusedAliases[kind] !== undefined)) refuse(kind, `reading ${pathPrefix}.kind`);
  return parseConfig(scorerConfigSchema, input, { what: `reading ${pathPrefix}`, path: pathPrefix });
}

/** A `--model` string (plus CLI extras such as `--tokenizer`) as a validated scorer config. */
export function scorerConfigFromSpec(spec: string, extra: ScorerExtras = {}): ScorerConfig {
  const s = parseModelSpec(spec);
  const base = s.type === "local" ? { type: "local" as const, path: s.path } : { type: s.type, url: s.url, ...(s.model === undefined ? {} : { model: s.model }) };
  return resolveScorerConfig({ ...extra, ...base }, "model");
}

export interface LoadModelOptions {
  /** `--tokenizer`: overrides the config's tokenizer directory. */
  readonly tokenizer?: string | undefined;
  /** Receives the self-test report, formatted (one call, several lines). */
  readonly log?: ((text: string) => void) | undefined;
  /** Scorer events (requests, retries, throttling, breaker) for metrics. */
  readonly onEvent?: ((e: ScorerEvent) => void) | undefined;
  readonly signal?: AbortSignal | undefined;
  /** Where api_key_env is read (default process.env). */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined;
}

export interface LoadedModel extends AttributionModel {
  readonly source: "local" | "endpoint";
  /** Endpoint only (absent when self_test is off). */
  readonly report?: SelfTestReport | undefined;
  close(): Promise<void>;
}

const DEFAULT_API_KEY_ENV = "REAGENT_SCORER_API_KEY";
const OPENAI_SCORING_MODELS = new Set(["davinci-002", "babbage-002"]);

/**
 * A model spec or scorer config (validated here, so a loosely typed object is fine) -> an
 * AttributionModel. Endpoints are detected, checked and self-tested before this resolves; the
 * report goes to `opts.log`.
 */
export async function loadAttributionModel(spec: string | ScorerConfigInput | ScorerExtras, opts: LoadModelOptions = {}): Promise<LoadedModel> {
  const cfg = typeof spec === "string" ? scorerConfigFromSpec(spec, opts.tokenizer === undefined ? {} : { tokenizer: opts.tokenizer }) : resolveScorerConfig(opts.tokenizer === undefined ? spec : { ...spec, tokenizer: opts.tokenizer });
  if (cfg.type === "local") {
    const local = await loadLocalModel(cfg.path, cfg.intra_op_threads === undefined ? {} : { intraOpThreads: cfg.intra_op_threads });
    return { ...local, source: "local", close: () => local.scorer.close() };
  }
  const ep = await connectEndpoint(cfg, opts);
  return {
    scorer: ep.scorer,
    tokenizer: ep.tokenizer,
    chatTemplate: ep.chatTemplate,
    addBos: ep.addBos,
    source: "endpoint",
    report: ep.report,
    close: () => ep.scorer.close(),
  };
}

export interface ConnectedEndpoint {
  readonly scorer: HttpScorer;
  readonly tokenizer: HfTextTokenizer;
  readonly chatTemplate: ChatTemplate;
  readonly addBos: boolean;
  readonly probe: ServerProbe;
  readonly report: SelfTestReport | undefined;
}

const tokenizerConfigBosSchema = z.object({ add_bos_token: z.boolean().optional() }).loose();

/** Detect the server, build the scorer for its protocol, run the self-test. */
export async function connectEndpoint(cfg: EndpointScorerConfig, opts: LoadModelOptions = {}): Promise<ConnectedEndpoint> {
  const kind = cfg.type;
  const tokDir = resolve(cfg.tokenizer);
  const tokenizer = HfTextTokenizer.fromDir(tokDir);
  const dirCfg = readOptionalJson(join(tokDir, "config.json"), onnxLmConfigSchema);
  const tokCfg = readOptionalJson(join(tokDir, "tokenizer_config.json"), tokenizerConfigBosSchema);
  const env = opts.env ?? process.env;
  const keyEnv = cfg.api_key_env ?? DEFAULT_API_KEY_ENV;
  const apiKey = cfg.api_key ?? env[keyEnv];
  if (cfg.api_key_env !== undefined && (apiKey === undefined || apiKey === "")) {
    throw new ConfigError({ what: "reading the scorer's API key", why: `api_key_env names ${cfg.api_key_env}, which is not set`, path: "scorer.api_key_env" });
  }
  const transport = new HttpTransport({ baseUrl: cfg.url, apiKey, ...(kind === "llama-cpp-python" ? { finalServerError: llamaCppPythonFinalError } : {}) });
  const what = `connecting to ${kind} at ${transport.endpoint}`;
  const preChecks: SelfTestCheck[] = [];

  const probe: ServerProbe =
    cfg.self_test === "off" ? { kind: "unknown", models: [], evidence: ["self_test is off: nothing probed"] } : await detectServer(transport, opts.signal);
  checkDetectedKind(kind, probe.kind, what);
  preChecks.push({ name: "server kind", ok: true, severity: "error", detail: probe.kind === "unknown" ? `not detected; trusting kind ${kind}` : `${probe.kind}${probe.version ? ` ${probe.version}` : ""} speaks the ${kind} protocol` });

  const model = resolveModelName(cfg, probe, what);
  if (kind === "openai" && /(^|\.)openai\.com$/i.test(new URL(transport.url("/")).hostname) && !OPENAI_SCORING_MODELS.has(model)) {
    throw new ScorerUnsupportedError({
      what,
      why: `OpenAI returns prompt logprobs (echo + logprobs) only for ${[...OPENAI_SCORING_MODELS].join(" and ")}; ${model} would answer "Setting 'echo' and 'logprobs' at the same time is not supported" or is a chat model, which cannot score a given continuation; ${WHAT_WORKS}`,
    });
  }

  let addBos = cfg.add_bos ?? dirCfg?.prepend_bos ?? tokCfg?.add_bos_token ?? false;
  let serverAddsBos = false;
  if (kind === "tgi") {
    serverAddsBos = await detectTgiServerBos(transport, tokenizer, opts.signal);
    if (serverAddsBos && !addBos) {
      if (cfg.add_bos === false) {
        throw new ScorerMismatchError({ what, why: "TGI prepends BOS to every input, so add_bos: false cannot be honoured; remove it or set it to true" });
      }
      addBos = true;
    }
    preChecks.push({ name: "BOS", ok: true, severity: "error", detail: serverAddsBos ? "TGI prepends BOS; the sequence's own BOS is left out of the text" : "TGI adds no BOS" });
  }

  let bosId: number | undefined;
  if (kind === "llama-cpp-python") {
    bosId = tokenizer.bosId ?? dirCfg?.bos_token_id ?? undefined;
    if (bosId === undefined) {
      throw new ConfigError({
        what,
        why: "llama-cpp-python aligns its prompt logprobs only after the model's BOS token, and the tokenizer directory names none (bos_token in tokenizer_config.json or bos_token_id in config.json)",
        path: "scorer.tokenizer",
      });
    }
    serverAddsBos = cfg.self_test === "off" ? addBos : await detectLlamaCppPythonBos(transport, model, tokenizer, bosId, opts.signal);
    if (serverAddsBos && !addBos) {
      if (cfg.add_bos === false) throw new ScorerMismatchError({ what, why: "the server prepends BOS to every prompt (the GGUF's add_bos_token), so add_bos: false cannot be honoured; remove it or set it to true" });
      addBos = true;
    }
    preChecks.push({ name: "BOS", ok: true, severity: "error", detail: serverAddsBos ? "the server prepends BOS; the sequence's own BOS is left out of the text" : "the server adds no BOS; a sequence's BOS is sent as its text" });
  }

  const maxTopK = cfg.max_top_k ?? (kind === "openai" || kind === "tgi" ? 5 : 20);
  const perRequest = kind === "tgi" || kind === "llama-cpp-python" ? 1 : (cfg.max_batch ?? (kind === "openai" ? 16 : 32));
  const protocol = buildProtocol(kind, { cfg, model, endpoint: transport.endpoint, tokenizer, maxTopK, perRequest, serverAddsBos, bosId });
  const guard = new RequestGuard(
    {
      endpoint: transport.endpoint,
      maxConcurrency: cfg.max_concurrency,
      timeoutMs: cfg.timeout_ms,
      requestsPerSecond: cfg.rate_limit.requests_per_second,
      promptTokensPerSecond: cfg.rate_limit.prompt_tokens_per_second,
      burstSeconds: cfg.rate_limit.burst_seconds,
      retry: cfg.retry,
      maxRetryAfterMs: cfg.max_retry_after_ms,
      breaker: { failureThreshold: cfg.breaker.failure_threshold, coolDownMs: cfg.breaker.cool_down_ms },
    },
    { onEvent: opts.onEvent },
  );
  const maxLen = probe.models.find((m) => m.id === model)?.maxModelLen ?? probe.maxModelLen ?? dirCfg?.max_position ?? dirCfg?.n_positions ?? dirCfg?.max_position_embeddings;
  const scorer = new HttpScorer({ protocol, transport, guard, model, maxSequenceLength: maxLen, vocabSize: dirCfg?.vocab_size });
  const chatTemplate = findChatTemplate(tokDir, tokenizer);

  let report: SelfTestReport | undefined;
  if (cfg.self_test !== "off") {
    report = await runSelfTest({ scorer, tokenizer, probe, declaredKind: kind, addBos, signal: opts.signal, preChecks });
    opts.log?.(formatSelfTestReport(report));
    if (!report.ok && cfg.self_test === "fail") {
      const failed = report.checks.find((c) => !c.ok && c.severity === "error");
      throw new ScorerMismatchError({
        what: `self-testing ${kind} at ${transport.endpoint}`,
        why: `${failed?.name ?? "a check"} failed: ${failed?.detail ?? ""} (set self_test: warn to start anyway)`,
        details: { checks: report.checks.filter((c) => !c.ok).map((c) => c.name) },
      });
    }
  }
  return { scorer, tokenizer, chatTemplate, addBos, probe, report };
}

function buildProtocol(
  kind: ServerKind,
  a: { cfg: EndpointScorerConfig; model: string; endpoint: string; tokenizer: HfTextTokenizer; maxTopK: number; perRequest: number; serverAddsBos: boolean; bosId: number | undefined },
): ScoringProtocol {
  switch (kind) {
    case "vllm":
    case "vllm-echo":
    case "openai":
      return new CompletionsProtocol({
        flavour: kind,
        model: a.model,
        endpoint: a.endpoint,
        sequencesPerRequest: a.perRequest,
        maxTopK: a.maxTopK,
        strings: new TokenStrings(a.tokenizer),
        bosId: a.tokenizer.bosId,
        echoMaxTokens: (a.cfg.type === "openai" || a.cfg.type === "vllm-echo" ? a.cfg.echo_max_tokens : undefined) ?? (kind === "openai" ? 1 : 0),
      });
    case "sglang":
      return new SglangProtocol({ endpoint: a.endpoint, sequencesPerRequest: a.perRequest, maxTopK: a.maxTopK });
    case "tgi":
      return new TgiProtocol({ endpoint: a.endpoint, tokenizer: a.tokenizer, maxTopK: a.maxTopK, topKMode: a.cfg.type === "tgi" ? a.cfg.tgi_top_k : "probe", serverAddsBos: a.serverAddsBos });
    case "llama-cpp-python":
      return new LlamaCppPythonProtocol({
        model: a.model,
        endpoint: a.endpoint,
        tokenizer: a.tokenizer,
        strings: new TokenStrings(a.tokenizer),
        maxTopK: a.maxTopK,
        bosId: a.bosId as number,
        serverAddsBos: a.serverAddsBos,
      });
  }
}

/** Which detected servers may speak which configured protocol. */
function checkDetectedKind(declared: ServerKind, detected: DetectedKind, what: string): void {
  if (detected === "ollama" || detected === "llamacpp" || detected === "lmstudio") refuse(detected, what);
  if (detected === "unknown") return;
  const speaks: Record<Exclude<DetectedKind, "unknown" | "ollama" | "llamacpp" | "lmstudio">, readonly ServerKind[]> = {
    vllm: ["vllm", "vllm-echo", "openai"],
    "vllm-echo": ["vllm", "vllm-echo", "openai"],
    "serve-model": ["vllm", "vllm-echo", "openai", "sglang"],
    sglang: ["sglang", "openai"],
    tgi: ["tgi"],
    openai: ["openai"],
    // Its /v1/completions takes neither token-id prompts nor prompt lists (HTTP 500), and aligns only after BOS.
    "llama-cpp-python": ["llama-cpp-python"],
  };
  if (!speaks[detected].includes(declared)) {
    throw new ConfigError({
      what,
      why: `the server looks like ${detected}, which does not speak the ${declared} protocol; use ${speaks[detected].map((k) => `${k}+…`).join(" or ")}`,
      path: "scorer.type",
      expected: speaks[detected].join(" | "),
    });
  }
}

function resolveModelName(cfg: EndpointScorerConfig, probe: ServerProbe, what: string): string {
  const listed = probe.models.map((m) => m.id);
  if (cfg.model !== undefined) {
    if (listed.length > 0 && !listed.includes(cfg.model) && probe.kind !== "tgi") {
      throw new ConfigError({ what, why: `the server does not serve model "${cfg.model}"; it lists ${listed.join(", ")}`, path: "scorer.model", expected: listed.join(" | ") });
    }
    return cfg.model;
  }
  if (listed.length === 1) return listed[0] as string;
  if (cfg.type === "tgi" || cfg.type === "sglang") return listed[0] ?? "default";
  throw new ConfigError({
    what,
    why: listed.length === 0 ? "no model name given and the server lists none; append it to the URL (vllm+http://host:8000/<model>)" : `no model name given and the server lists several: ${listed.join(", ")}`,
    path: "scorer.model",
  });
}

function readOptionalJson<S extends z.ZodType>(path: string, schema: S): z.infer<S> | undefined {
  if (!existsSync(path)) return undefined;
  try {
    const r = schema.safeParse(JSON.parse(readFileSync(path, "utf8")));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}

/** For callers that hold a Scorer: the HTTP scorer's counters, when it is one. */
export function scorerStats(scorer: Scorer): HttpScorer["stats"] | undefined {
  return scorer instanceof HttpScorer ? scorer.stats : undefined;
}

export { HttpScorer } from "./http/http-scorer.js";
export { formatSelfTestReport, type SelfTestReport } from "./http/self-test.js";
export type { ScorerEvent, ScorerStats } from "./http/guard.js";
