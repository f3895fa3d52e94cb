/**
 * Start-up checks for a scoring endpoint: what server is it (kind, version, models), does its
 * tokenizer agree with ours, and does scoring a fixed input satisfy the invariants the engine
 * relies on. The result is a report object (for logs and the pipeline) plus a formatter for the
 * CLI; `reagent-stream check-model` prints it.
 *
 * @see docs/endpoints.md#start-up-self-test
 */
import { z } from "zod";
import { errorMessage } from "../../errors.js";
import type { TextTokenizer } from "../../text/tokenizer.js";
import type { ScoredPosition } from "../../attribution/scorer.js";
import type { HttpScorer } from "./http-scorer.js";
import type { ServerKind } from "./protocol.js";
import type { HttpTransport } from "./transport.js";
import { checkAlignment } from "./alignment-check.js";

/** What a server looked like from the outside. Refused kinds can serve text but cannot score a given continuation. */
export type DetectedKind = ServerKind | "serve-model" | "ollama" | "llamacpp" | "lmstudio" | "unknown";

export interface ServedModelInfo {
  readonly id: string;
  readonly ownedBy?: string | undefined;
  readonly maxModelLen?: number | undefined;
}

export interface ServerProbe {
  readonly kind: DetectedKind;
  readonly version?: string | undefined;
  readonly models: readonly ServedModelInfo[];
  readonly maxModelLen?: number | undefined;
  /** What each probe saw ("GET /v1/models: owned_by vllm"). */
  readonly evidence: readonly string[];
}

const modelsSchema = z.object({
  data: z.array(z.object({ id: z.string(), owned_by: z.string().nullish(), max_model_len: z.number().int().nullish() }).loose()),
}).loose();
const versionSchema = z.object({ version: z.string(), server: z.string().nullish() }).loose();
const tgiInfoSchema = z
  .object({
    model_id: z.string(),
    version: z.string().nullish(),
    router: z.string().nullish(),
    max_input_tokens: z.number().int().nullish(),
    max_input_length: z.number().int().nullish(),
    max_total_tokens: z.number().int().nullish(),
  })
  .loose();
const sglangInfoSchema = z.object({ model_path: z.string() }).loose();
const llamaPropsSchema = z.object({ default_generation_settings: z.unknown(), build_info: z.string().nullish() }).loose();
const openApiSchema = z.object({ info: z.object({ title: z.string(), version: z.string().nullish() }).loose() }).loose();

const PROBE_TIMEOUT_MS = 5_000;

/** Probe the usual identity routes at once; every failure just means "not this one". */
export async function detectServer(transport: HttpTransport, signal?: AbortSignal): Promise<ServerProbe> {
  const get = async (path: string): Promise<unknown> => {
    const s = signal ? AbortSignal.any([signal, AbortSignal.timeout(PROBE_TIMEOUT_MS)]) : AbortSignal.timeout(PROBE_TIMEOUT_MS);
    try {
      return await transport.getJson(path, s);
    } catch {
      return undefined;
    }
  };
  const [models, version, sglang, sglangServer, tgi, ollama, llama, lmstudio, openApi] = await Promise.all(
    ["/v1/models", "/version", "/get_model_info", "/get_server_info", "/info", "/api/version", "/props", "/api/v0/models", "/openapi.json"].map(get),
  );
  signal?.throwIfAborted();
  const evidence: string[] = [];
  const kinds: DetectedKind[] = [];
  let ver: string | undefined;
  let maxLen: number | undefined;
  const m = modelsSchema.safeParse(models);
  const served: ServedModelInfo[] = m.success ? m.data.data.map((x) => ({ id: x.id, ownedBy: x.owned_by ?? undefined, maxModelLen: x.max_model_len ?? undefined })) : [];
  if (m.success) {
    const owners = [...new Set(served.map((x) => x.ownedBy ?? "?"))];
    evidence.push(`GET /v1/models: ${served.length} model(s) (${served.map((x) => x.id).join(", ")}), owned_by ${owners.join(", ")}`);
    for (const o of owners) {
      if (o === "reagent-stream") kinds.push("serve-model");
      else if (o === "vllm") kinds.push("vllm");
      else if (o === "sglang") kinds.push("sglang");
      else if (o === "library") kinds.push("ollama");
      else if (o === "llamacpp") kinds.push("llamacpp");
      else if (["openai", "system", "openai-internal", "openai-dev"].includes(o)) kinds.push("openai");
    }
    maxLen = served.find((x) => x.maxModelLen !== undefined)?.maxModelLen;
  }
  const v = versionSchema.safeParse(version);
  if (v.success) {
    ver = v.data.version;
    evidence.push(`GET /version: ${v.data.version}${v.data.server ? ` (${v.data.server})` : ""}`);
    if (v.data.server?.includes("serve-model")) kinds.unshift("serve-model");
  }
  if (sglangInfoSchema.safeParse(sglang).success) {
    kinds.unshift("sglang");
    const sv = versionSchema.safeParse(sglangServer);
    if (sv.success) ver = sv.data.version;
    evidence.push(`GET /get_model_info: SGLang${sv.success ? ` ${sv.data.version}` : ""}`);
  }
  const t = tgiInfoSchema.safeParse(tgi);
  if (t.success && (t.data.router !== undefined || t.data.max_total_tokens !== undefined)) {
    kinds.unshift("tgi");
    ver = t.data.version ?? ver;
    maxLen = t.data.max_input_tokens ?? t.data.max_input_length ?? t.data.max_total_tokens ?? maxLen;
    evidence.push(`GET /info: TGI ${t.data.version ?? "?"} serving ${t.data.model_id}`);
  }
  if (versionSchema.safeParse(ollama).success) {
    kinds.unshift("ollama");
    evidence.push("GET /api/version: Ollama");
  }
  const props = llamaPropsSchema.safeParse(llama);
  if (props.success) {
    kinds.unshift("llamacpp");
    ver = props.data.build_info ?? ver;
    evidence.push(`GET /props: llama.cpp llama-server${props.data.build_info ? ` (build ${props.data.build_info})` : ""}`);
  }
  // llama-cpp-python's FastAPI app names itself in its OpenAPI document ("🦙 llama.cpp Python API").
  const api = openApiSchema.safeParse(openApi);
  if (api.success && /llama\.cpp Python/i.test(api.data.info.title)) {
    kinds.unshift("llama-cpp-python");
    ver = api.data.info.version ?? ver;
    evidence.push(`GET /openapi.json: llama-cpp-python ${api.data.info.version ?? "?"} (${api.data.info.title})`);
  }
  if (lmstudio !== undefined && z.object({ data: z.array(z.unknown()) }).loose().safeParse(lmstudio).success) {
    kinds.unshift("lmstudio");
    evidence.push("GET /api/v0/models: LM Studio");
  }
  if (evidence.length === 0) evidence.push("no identity route answered (/v1/models, /version, /get_model_info, /info, /props, /openapi.json)");
  return { kind: kinds[0] ?? "unknown", version: ver, models: served, maxModelLen: maxLen, evidence };
}

export type CheckSeverity = "error" | "warning";

export interface SelfTestCheck {
  readonly name: string;
  readonly ok: boolean;
  readonly severity: CheckSeverity;
  readonly detail: string;
}

export interface SelfTestFeature {
  readonly name: string;
  readonly support: "yes" | "no" | "partial";
  readonly detail: string;
}

export interface SelfTestReport {
  readonly endpoint: string;
  readonly declaredKind: ServerKind;
  readonly detectedKind: DetectedKind;
  readonly version: string | undefined;
  readonly model: string;
  readonly protocol: string;
  readonly maxModelLen: number | undefined;
  readonly evidence: readonly string[];
  readonly checks: readonly SelfTestCheck[];
  readonly features: readonly SelfTestFeature[];
  /** No error-severity check failed. */
  readonly ok: boolean;
  readonly durationMs: number;
}

export interface SelfTestArgs {
  readonly scorer: HttpScorer;
  readonly tokenizer: TextTokenizer;
  readonly probe: ServerProbe;
  readonly declaredKind: ServerKind;
  readonly addBos: boolean;
  readonly signal?: AbortSignal | undefined;
  /** Checks already made while connecting (kind, model, BOS), listed first. */
  readonly preChecks?: readonly SelfTestCheck[];
}

/** The fixed input: plain ASCII, so it round-trips through any tokenizer (TGI takes text). */
export const SELF_TEST_TEXT = "The quick brown fox jumps over the lazy dog, and then it rests in the sun.";
const EPS = 1e-4;

/** Score the fixed input and check the invariants the engine relies on. */
export async function runSelfTest(args: SelfTestArgs): Promise<SelfTestReport> {
  const t0 = performance.now();
  const { scorer, tokenizer } = args;
  const checks: SelfTestCheck[] = [...(args.preChecks ?? [])];
  const add = (name: string, ok: boolean, detail: string, severity: CheckSeverity = "error"): void => {
    checks.push({ name, ok, severity, detail });
  };
  const kind = args.declaredKind;
  // A server that aligns its logprobs only after a given first token (llama-cpp-python: BOS) is tested the way it is used.
  const first = scorer.protocol.requiredFirstId;
  const bos = first !== undefined ? [first] : args.addBos && tokenizer.bosId !== undefined ? [tokenizer.bosId] : [];
  const ids = [...bos, ...tokenizer.encode(SELF_TEST_TEXT).ids];
  const positions = Array.from({ length: ids.length - 1 }, (_, i) => i + 1);
  const k = Math.min(5, scorer.capabilities.maxTopK);
  const opts = { topK: k, ...(args.signal ? { signal: args.signal } : {}) };

  await checkTokenizer(args, add);
  if (first !== undefined && !(args.addBos && tokenizer.bosId === first)) {
    add(
      "sequences start with BOS",
      false,
      `this server scores only sequences that start with BOS ${JSON.stringify(tokenizer.tokenText(first))} (id ${first}): chat-template prompts that open with it work; others are refused (set add_bos: true to start every prompt with it)`,
      "warning",
    );
  }

  let scored: readonly ScoredPosition[] | undefined;
  try {
    const [res] = await scorer.score([{ ids, positions }], opts);
    scored = res?.positions;
    const okShape = scored !== undefined && scored.length === positions.length && scored.every((p, i) => p.position === positions[i]);
    add("scores a fixed input", okShape, okShape ? `${ids.length} tokens, ${positions.length} positions, top-${k}` : `expected ${positions.length} positions in order, got ${scored?.length ?? 0}`);
  } catch (err) {
    add("scores a fixed input", false, errorMessage(err));
  }
  if (scored) {
    // Position 1 has no value on some servers (llama-cpp-python nulls the first echoed entry); the engine never scores it.
    const all = first !== undefined ? scored.filter((p) => p.position >= 2) : scored;
    const bad = all.filter((p) => p.logprob === null || p.logprob > 1e-6 || p.topKLogprobs.some((x) => x > 1e-6));
    add("logprobs are <= 0 and present", bad.length === 0, bad.length === 0 ? "every scored position has a logprob <= 0" : `positions ${bad.map((p) => p.position).join(", ")} have a missing or positive logprob`);
    const exactTop = scorer.protocol.topKAtPromptPositions || scorer.protocol.variant === "topk-probe";
    if (exactTop) {
      // TGI cannot probe the slot right after a BOS it adds itself (the prefix text would be empty).
      const probed = all.filter((p) => !(scorer.protocol.kind === "tgi" && p.position === 1 && ids[0] === tokenizer.bosId));
      const unsorted = probed.filter((p) => p.topKLogprobs.some((x, i) => i > 0 && x > (p.topKLogprobs[i - 1] as number) + 1e-9));
      const short = probed.filter((p) => p.topK.length < Math.min(k, tokenizer.size));
      add("top-k is sorted and complete", unsorted.length === 0 && short.length === 0, unsorted.length + short.length === 0 ? `top-${k} at every position` : `unsorted at ${unsorted.map((p) => p.position).join(",") || "-"}; short at ${short.map((p) => p.position).join(",") || "-"}`);
      const inconsistent = probed.filter((p) => !actualConsistent(p, ids[p.position] as number, k));
      add(
        "actual token in top-k or ranked below it",
        inconsistent.length === 0,
        inconsistent.length === 0
          ? "the actual token's logprob matches its top-k entry, or is below the k-th; ranks agree"
          : `inconsistent at positions ${inconsistent.map((p) => p.position).join(", ")}`,
      );
    } else {
      const wrong = all.filter((p) => p.topK.some((id) => id !== ids[p.position]));
      add("bounded top-k holds only the actual token", wrong.length === 0, "TGI gives no top-k at prompt positions; the bound lists the actual token when p > 1/(k+1)");
    }
    try {
      const [again] = await scorer.score([{ ids, positions }], opts);
      const same = (again?.positions ?? []).every((p, i) => close(p.logprob, scored?.[i]?.logprob ?? null, 1e-6));
      add("deterministic", same, same ? "the same input scored twice gives the same logprobs" : "two identical calls gave different logprobs; results will not reproduce", "warning");
    } catch (err) {
      add("deterministic", false, errorMessage(err), "warning");
    }
    try {
      const other = ids.slice(0, Math.max(2, Math.floor(ids.length / 2)));
      const both = await scorer.score(
        [
          { ids, positions },
          { ids: other, positions: [other.length - 1] },
        ],
        opts,
      );
      const same = (both[0]?.positions ?? []).every((p, i) => close(p.logprob, scored?.[i]?.logprob ?? null, EPS));
      add("batch equals single", same, same ? `within ${EPS}` : "scores change with batch composition beyond 1e-4; attribution will still run, but not bit-for-bit reproducibly", "warning");
    } catch (err) {
      add("batch equals single", false, errorMessage(err), "warning");
    }
    for (const c of await checkAlignment({ scorer, tokenizer, ids, scored, opts })) add(c.name, c.ok, c.detail);
  }
  let nextOk = false;
  try {
    const [n] = await scorer.score([{ ids, positions: [ids.length] }], opts);
    const slot = n?.positions[0];
    nextOk = slot !== undefined && slot.logprob === null && slot.topK.length > 0;
    add("next-token slot", nextOk, nextOk ? `top-${slot?.topK.length ?? 0} after the sequence` : "the server gave no alternatives after the sequence", "warning");
  } catch (err) {
    add("next-token slot", false, errorMessage(err), "warning");
  }

  const p = scorer.protocol;
  const conc = scorer.capabilities.maxBatch / p.sequencesPerRequest;
  const features: SelfTestFeature[] = [
    { name: "teacher-forced logprobs (ReAGent update steps, all modes)", support: scored ? "yes" : "no", detail: p.label },
    {
      name: "top-k for the stopping check",
      support: p.topKAtPromptPositions ? "yes" : p.variant === "topk-probe" ? "yes" : "partial",
      detail: p.topKAtPromptPositions
        ? `exact, k <= ${p.maxTopK}`
        : p.variant === "topk-probe"
          ? `exact via one next-token request per position (TGI gives none at prompt positions), k <= ${p.maxTopK}`
          : "probability bound only (TGI gives no top-k at prompt positions); probes stop later",
    },
    {
      name: "self sampler (top-k at every prompt position)",
      support: p.topKAtPromptPositions || p.variant === "topk-probe" ? "yes" : "no",
      detail: p.topKAtPromptPositions ? "from the same call" : p.variant === "topk-probe" ? "one extra request per position" : "needs real top-k; use uniform or pos",
    },
    {
      name: "token-id input",
      support: p.acceptsTokenIds ? "yes" : "partial",
      detail: p.acceptsTokenIds ? "ids are sent as ids and checked on return" : "text only: sequences that do not re-tokenise to the same ids are refused (ScorerMismatchError)",
    },
    { name: "batching", support: p.sequencesPerRequest > 1 ? "yes" : "partial", detail: `${p.sequencesPerRequest} sequence(s) per request, up to ${conc} requests at once` },
    { name: "actual token rank", support: kind === "vllm" ? "yes" : "partial", detail: kind === "vllm" ? "from prompt_logprobs" : "only when the token is in the top-k" },
    { name: "next-token slot", support: nextOk ? "yes" : "no", detail: nextOk ? "generated-token alternatives" : "not available" },
  ];
  const ok = checks.every((c) => c.ok || c.severity === "warning");
  return {
    endpoint: scorer.transport.endpoint,
    declaredKind: kind,
    detectedKind: args.probe.kind,
    version: args.probe.version,
    model: scorer.info.model,
    protocol: p.label,
    maxModelLen: scorer.capabilities.maxSequenceLength,
    evidence: args.probe.evidence,
    checks,
    features,
    ok,
    durationMs: Math.round(performance.now() - t0),
  };
}

function close(a: number | null, b: number | null, eps: number): boolean {
  if (a === null || b === null) return a === b;
  return Math.abs(a - b) <= eps;
}

/** In the top-k with the same logprob, or below the k-th entry; a reported rank agrees. */
function actualConsistent(p: ScoredPosition, actual: number, k: number): boolean {
  if (p.logprob === null) return false;
  const i = p.topK.indexOf(actual);
  if (i >= 0) {
    if (Math.abs((p.topKLogprobs[i] as number) - p.logprob) > EPS) return false;
    return p.rank === undefined || p.rank <= k;
  }
  const last = p.topKLogprobs[p.topKLogprobs.length - 1];
  if (p.topK.length >= k && last !== undefined && p.logprob > last + EPS) return false;
  return p.rank === undefined || p.rank > p.topK.length;
}

async function checkTokenizer(args: SelfTestArgs, add: (name: string, ok: boolean, detail: string, severity?: CheckSeverity) => void): Promise<void> {
  const { scorer, tokenizer } = args;
  const local = tokenizer.encode(SELF_TEST_TEXT).ids;
  const t = scorer.transport;
  const signal = args.signal ? AbortSignal.any([args.signal, AbortSignal.timeout(PROBE_TIMEOUT_MS)]) : AbortSignal.timeout(PROBE_TIMEOUT_MS);
  let remote: number[] | undefined;
  let route = "";
  try {
    if (args.declaredKind === "vllm" || args.declaredKind === "vllm-echo") {
      route = "POST /tokenize";
      const r = z.object({ tokens: z.array(z.number().int()) }).loose().parse(await t.postJson("/tokenize", { model: scorer.info.model, prompt: SELF_TEST_TEXT, add_special_tokens: false }, signal));
      remote = r.tokens;
    } else if (args.declaredKind === "sglang") {
      route = "POST /v1/tokenize";
      const r = z.object({ tokens: z.array(z.number().int()) }).loose().parse(await t.postJson("/v1/tokenize", { model: scorer.info.model, prompt: SELF_TEST_TEXT, add_special_tokens: false }, signal));
      remote = r.tokens;
    } else if (args.declaredKind === "llama-cpp-python") {
      route = "POST /extras/tokenize";
      const r = z.object({ tokens: z.array(z.number().int()) }).loose().parse(await t.postJson("/extras/tokenize", { model: scorer.info.model, input: SELF_TEST_TEXT }, signal));
      remote = r.tokens;
      // The route applies the model's add_bos rule; the comparison is about the text's own tokens.
      if (tokenizer.bosId !== undefined && remote[0] === tokenizer.bosId && local[0] !== tokenizer.bosId) remote = remote.slice(1);
    } else if (args.declaredKind === "tgi") {
      route = "POST /tokenize";
      const r = z.array(z.object({ id: z.number().int() }).loose()).parse(await t.postJson("/tokenize", { inputs: SELF_TEST_TEXT }, signal));
      remote = r.map((x) => x.id);
      if (tokenizer.bosId !== undefined && remote[0] === tokenizer.bosId && local[0] !== tokenizer.bosId) remote = remote.slice(1);
    }
  } catch (err) {
    add("tokenizer agrees with the server", true, `${route || "tokenize"} unavailable (${errorMessage(err).slice(0, 120)}); echoed ids are checked on every call instead`, "warning");
    return;
  }
  if (remote === undefined) {
    add("tokenizer agrees with the server", true, "the server has no tokenize endpoint; echoed tokens are checked on every call instead", "warning");
    return;
  }
  const same = remote.length === local.length && remote.every((id, i) => id === local[i]);
  add(
    "tokenizer agrees with the server",
    same,
    same ? `${route} gives the same ${local.length} ids as the local tokenizer.json` : `${route} gives ${JSON.stringify(remote.slice(0, 12))}…, the local tokenizer ${JSON.stringify(local.slice(0, 12))}…; point tokenizer at the served model's tokenizer.json`,
  );
}

/** The report as lines for a terminal. */
export function formatSelfTestReport(r: SelfTestReport): string {
  const lines: string[] = [];
  const detected = r.detectedKind === "unknown" ? "not detected" : `detected ${r.detectedKind}${r.version ? ` ${r.version}` : ""}`;
  lines.push(`endpoint ${r.endpoint}: ${r.declaredKind} (${detected}), model ${r.model}${r.maxModelLen ? `, max ${r.maxModelLen} tokens` : ""}`);
  lines.push(`scoring: ${r.protocol}`);
  for (const e of r.evidence) lines.push(`  seen: ${e}`);
  lines.push("checks:");
  for (const c of r.checks) lines.push(`  ${c.ok ? "ok  " : c.severity === "error" ? "FAIL" : "warn"}  ${c.name}: ${c.detail}`);
  lines.push("engine features:");
  for (const f of r.features) lines.push(`  ${f.support.padEnd(7)}  ${f.name}: ${f.detail}`);
  const failed = r.checks.find((c) => !c.ok && c.severity === "error");
  lines.push(r.ok ? `result: ready (${r.durationMs} ms)` : `result: NOT READY: ${failed?.name ?? "?"}: ${failed?.detail ?? ""}`);
  return lines.join("\n");
}
