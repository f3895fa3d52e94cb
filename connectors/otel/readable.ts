/**
 * What a person reads in a trace view: the attribution as an evaluation of the logged call.
 * `input.value` names the call that was evaluated, `output.value` lists the top prompt spans
 * with their shares, the segment shares, convergence and faithfulness, and a one-line
 * explanation goes to `gen_ai.evaluation.explanation`. Text appears only as the text policy
 * allows (none: character ranges; redacted: masked as the sinks' `store_text: redacted`; full).
 *
 * @see schemas/otel-attributes.md
 */
import type { AttributionResult, ResultSpan } from "../../schemas/attribution-result.js";
import { redactText } from "../sink-common/redact.js";
import type { SpanTextPolicy } from "./config.js";

/** The prompt and completion text as the policy allows (undefined: no text). */
export function policyTexts(result: AttributionResult, policy: SpanTextPolicy): { prompt?: string; completion?: string } {
  if (policy === "none") return {};
  if (policy === "full") return { prompt: result.prompt.text, completion: result.completion.text };
  return { prompt: redactText(result.prompt.text), completion: redactText(result.completion.text) };
}

/** A span's text under the policy (masking keeps offsets, so slicing the masked prompt is exact). */
export function spanText(span: ResultSpan, prompt: string | undefined): string | undefined {
  return prompt === undefined ? undefined : prompt.slice(span.start, span.end);
}

/** The top spans by rank, at most `max`. */
export function rankedSpans(result: AttributionResult, max: number): ResultSpan[] {
  return [...result.spans].sort((x, y) => x.rank - y.rank).slice(0, max);
}

const pct = (v: number): string => `${(v * 100).toFixed(1)}%`;

/**
 * Segment shares that add up to 100%: configured rules, roles and the rest of the prompt.
 * (Per-message shares overlap their role's share, so they are left out here.)
 */
export function additiveSegments(result: AttributionResult): { name: string; kind: string; share: number }[] {
  return result.segments
    .filter((s) => s.kind !== "message")
    .sort((a, b) => b.share - a.share)
    .map((s) => ({ name: s.name, kind: s.kind, share: s.share }));
}

function spanLabel(span: ResultSpan, prompt: string | undefined): string {
  const text = spanText(span, prompt);
  const where = span.segment !== null && span.segment !== "prompt" ? ` (${span.segment})` : "";
  return `${text === undefined ? `chars ${span.start}-${span.end}` : JSON.stringify(text)} ${pct(span.score)}${where}`;
}

/** One line for gen_ai.evaluation.explanation: the top spans, the shares and whether it converged. */
export function explanation(result: AttributionResult, policy: SpanTextPolicy, maxSpans: number): string {
  const { prompt } = policyTexts(result, policy);
  const spans = rankedSpans(result, Math.min(maxSpans, 5));
  const c = result.convergence;
  const parts = [
    spans.length === 0 ? "no prompt span stands out" : `top prompt spans: ${spans.map((s) => spanLabel(s, prompt)).join(", ")}`,
  ];
  const segs = additiveSegments(result).filter((s) => s.share >= 0.005);
  if (segs.length > 1 || segs.some((s) => s.kind !== "prompt")) parts.push(`shares: ${segs.slice(0, 4).map((s) => `${s.name} ${pct(s.share)}`).join(", ")}`);
  parts.push(c.converged ? `converged (${c.targets_converged}/${c.targets_total} target tokens)` : `NOT converged (${c.targets_converged}/${c.targets_total} target tokens): treat as a rough estimate`);
  const faith = Object.entries(result.faithfulness ?? {});
  if (faith.length > 0) parts.push(`faithfulness: ${faith.map(([k, v]) => `${k} ${Number(v.toPrecision(3))}`).join(", ")}`);
  return parts.join("; ");
}

/** input.value: which logged call was evaluated, as JSON. */
export function inputValue(result: AttributionResult, policy: SpanTextPolicy): string {
  const ctx = result.context;
  const { completion } = policyTexts(result, policy);
  return JSON.stringify({
    question: "Which parts of the prompt drove this completion?",
    record_id: ctx.record_id,
    response_id: ctx.response_id,
    model: ctx.logged_model ?? result.model.name,
    provider: ctx.provider,
    ...(completion === undefined ? {} : { completion }),
    prompt_tokens: result.prompt.tokens.length,
    completion_tokens: result.completion.tokens.length,
  });
}

/** output.value: the answer, as JSON a person can read in a trace view. */
export function outputValue(result: AttributionResult, policy: SpanTextPolicy, maxSpans: number): string {
  const { prompt } = policyTexts(result, policy);
  const c = result.convergence;
  return JSON.stringify({
    summary: explanation(result, policy, maxSpans),
    top_spans: rankedSpans(result, maxSpans).map((s) => ({
      rank: s.rank,
      share: pct(s.score),
      ...(prompt === undefined ? {} : { text: spanText(s, prompt) }),
      chars: `${s.start}-${s.end}`,
      segment: s.segment,
    })),
    segment_shares: Object.fromEntries(additiveSegments(result).map((s) => [s.name, pct(s.share)])),
    convergence: {
      converged: c.converged,
      target_tokens: `${c.targets_converged}/${c.targets_total}`,
      probes: `${c.probes_converged}/${c.probes_total}`,
    },
    ...(result.faithfulness === null ? {} : { faithfulness: result.faithfulness }),
    cost: { model_calls: result.cost.model_calls, sequences: result.cost.sequences_evaluated, seconds: Number((result.timings.duration_ms / 1000).toFixed(2)) },
    method: `${result.method}${result.mode === null ? "" : `/${result.mode}`}`,
    attribution_id: result.attribution_id,
  });
}
