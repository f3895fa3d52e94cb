/**
 * A schema-valid AttributionResult of any size, for attribute tests and the 4k-token
 * measurement: a chat prompt of `messages` user/assistant turns over `promptTokens` tokens,
 * `spans` top spans, a normalised random-ish sequence importance, faithfulness metrics.
 * Every prompt token's text is a distinctive word (`secretword<i>`), so leak checks can search
 * for them.
 */
import { attributionResultSchema, emptyRecordContext, type AttributionResult, type RecordContext } from "../../../../schemas/attribution-result.js";
import { resolveEngineConfig } from "../../../../src/attribution/config.js";

export interface SyntheticOptions {
  readonly promptTokens: number;
  readonly completionTokens?: number;
  readonly messages?: number;
  readonly spans?: number;
  readonly faithfulness?: Record<string, number> | null;
  readonly context?: Partial<RecordContext>;
  readonly startedAt?: string;
  readonly durationMs?: number;
}

export const PROMPT_WORD = "secretword";
export const COMPLETION_WORD = "answerword";

export function syntheticResult(o: SyntheticOptions): AttributionResult {
  const P = o.promptTokens;
  const G = o.completionTokens ?? 32;
  const M = Math.max(1, o.messages ?? 2);
  const words = Array.from({ length: P }, (_, i) => `${PROMPT_WORD}${i}`);
  const text = words.join(" ");
  let pos = 0;
  const perMessage = Math.ceil(P / M);
  const promptTokens = words.map((w, i) => {
    const start = pos;
    pos += w.length + 1;
    const mi = Math.floor(i / perMessage);
    return { id: 100 + (i % 900), text: w, start, end: start + w.length, special: false, protected: false, segment: mi % 2 === 0 ? "user" : "assistant", message_index: mi };
  });
  const messages = Array.from({ length: M }, (_, mi) => {
    const first = promptTokens[mi * perMessage];
    const last = promptTokens[Math.min(P, (mi + 1) * perMessage) - 1];
    return { index: mi, role: mi % 2 === 0 ? ("user" as const) : ("assistant" as const), start: first?.start ?? 0, end: last?.end ?? 0 };
  });
  const cwords = Array.from({ length: G }, (_, i) => `${COMPLETION_WORD}${i}`);
  let cpos = 0;
  const completionTokens = cwords.map((w, i) => {
    const start = cpos;
    cpos += w.length + 1;
    return { id: 2000 + i, text: w, start, end: start + w.length, special: false, protected: false, segment: "completion", message_index: null };
  });
  // A deterministic, uneven importance vector that sums to 1.
  const raw = Array.from({ length: P }, (_, i) => 1 + ((i * 7919) % 97) / 13 + (i % 50 === 0 ? 40 : 0));
  const total = raw.reduce((s, v) => s + v, 0);
  const importance = raw.map((v) => v / total);
  const nSpans = Math.min(o.spans ?? 5, P);
  const spanTokens = Array.from({ length: nSpans }, (_, k) => Math.floor((k * P) / Math.max(1, nSpans)));
  const spans = spanTokens.map((ti, k) => {
    const t = promptTokens[ti]!;
    return {
      rank: k + 1,
      text: t.text,
      start: t.start,
      end: t.end,
      token_start: ti,
      token_end: ti + 1,
      score: importance[ti]!,
      segment: t.segment,
      role: messages[t.message_index]!.role,
      message_index: t.message_index,
    };
  });
  const segShare = new Map<string, { share: number; tokens: number; kind: "role" | "message"; mi: number | null }>();
  promptTokens.forEach((t, i) => {
    const v = importance[i]!;
    const role = messages[t.message_index]!.role;
    for (const [name, kind, mi] of [
      [role, "role", null],
      [`${role}#${t.message_index}`, "message", t.message_index],
    ] as const) {
      const cur = segShare.get(name) ?? { share: 0, tokens: 0, kind, mi };
      segShare.set(name, { ...cur, share: cur.share + v, tokens: cur.tokens + 1 });
    }
  });
  const segments = [...segShare.entries()].map(([name, s]) => ({ name, kind: s.kind, message_index: s.mi, share: Math.min(1, s.share), tokens: s.tokens }));
  const targets = Array.from({ length: Math.min(G, 4) }, (_, i) => ({
    index: i,
    token_id: 2000 + i,
    p_original: 0.5,
    converged: true,
    probes_converged: 16,
    probes_total: 16,
    steps: 40,
    importance: Array.from({ length: P + i }, () => 1 / (P + i)),
  }));
  const result: AttributionResult = {
    schema_version: 1,
    attribution_id: "0123456789abcdef0123456789abcdef",
    context: { ...emptyRecordContext, ...o.context },
    created_at: "2026-01-01T00:00:01.500Z",
    engine_version: "0.1.0",
    model: { scorer_id: "onnx:tiny-lm@be6522ab0f23", kind: "onnx", name: "tiny-lm" },
    method: "reagent",
    mode: "joint",
    sampler: "uniform",
    sampler_description: "uniform",
    config: resolveEngineConfig({ sampler: "uniform" }),
    config_hash: "c77b8611e3aaad37",
    prompt: { text, tokens: promptTokens, messages },
    completion: { text: cwords.join(" "), tokens: completionTokens },
    targets,
    sequence: { importance, aggregation: "rollout_mean" },
    words: [],
    segments,
    unit_level: "token",
    units: [],
    spans,
    convergence: { converged: true, targets_converged: G, targets_total: G, probes_converged: 16 * G, probes_total: 16 * G, steps_total: 40 * G, steps_max: 120 },
    cost: { model_calls: 1234, sequences_evaluated: 56_789, tokens_processed: 123_456_789 },
    timings: { started_at: o.startedAt ?? "2026-01-01T00:00:00.000Z", duration_ms: o.durationMs ?? 1500.25 },
    faithfulness: o.faithfulness === undefined ? { comprehensiveness: 0.42, sufficiency: 0.13 } : o.faithfulness,
    warnings: [],
  };
  return attributionResultSchema.parse(result);
}
