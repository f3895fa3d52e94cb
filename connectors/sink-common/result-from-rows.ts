/**
 * An AttributionResult rebuilt from what a store keeps (the rows of rows.ts), for the HTML
 * report and the web view of stored attributions. What the store does not keep is left empty:
 * word scores, per-target probe counts, and (under `store_text: none`) the text; per-target
 * rows are there as far as `max_matrix_cells` kept them.
 */
import { unitLevels, type AttributionResult, type UnitLevel } from "../../schemas/attribution-result.js";
import type { StoredRows } from "./rows.js";

const orNull = (s: string | null): string | null => (s === null || s === "" ? null : s);

export function resultFromRows(rows: StoredRows): AttributionResult {
  const a = rows.attribution;
  const tokens = a.prompt_token_ids.map((id, i) => ({
    id,
    text: a.prompt_token_text[i] ?? "",
    start: a.prompt_token_start[i] ?? 0,
    end: a.prompt_token_end[i] ?? 0,
    special: a.prompt_token_special[i] === 1,
    protected: a.prompt_token_protected[i] === 1,
    segment: a.prompt_token_segment[i] ?? null,
    message_index: a.prompt_token_message[i] ?? null,
  }));
  const completionTokens = a.completion_token_ids.map((id, i) => ({
    id,
    text: a.completion_token_text[i] ?? "",
    start: a.completion_token_start[i] ?? 0,
    end: a.completion_token_end[i] ?? 0,
    special: a.completion_token_special[i] === 1,
    protected: false,
    segment: null,
    message_index: null,
  }));
  let config: AttributionResult["config"];
  try {
    config = JSON.parse(a.config_json) as AttributionResult["config"];
  } catch {
    config = {};
  }
  return {
    schema_version: 1,
    attribution_id: a.attribution_id,
    context: {
      record_id: a.record_id,
      trace_id: a.trace_id,
      span_id: a.span_id,
      response_id: a.response_id,
      tenant_id: orNull(a.tenant_id),
      user_id: a.user_id,
      session_id: a.session_id,
      provider: a.provider,
      logged_model: a.logged_model,
      record_timestamp: a.record_time,
    },
    created_at: a.created_at,
    engine_version: a.engine_version,
    model: { scorer_id: a.scorer_id, kind: a.model_kind, name: a.model },
    method: a.method,
    mode: a.mode,
    sampler: a.sampler,
    sampler_description: a.sampler_description,
    config,
    config_hash: a.config_hash,
    prompt: {
      text: a.prompt_text ?? "",
      tokens,
      messages: a.message_role.map((role, index) => ({ index, role: role as AttributionResult["prompt"]["messages"][number]["role"], start: a.message_start[index] ?? 0, end: a.message_end[index] ?? 0 })),
    },
    completion: { text: a.completion_text ?? "", tokens: completionTokens },
    targets: a.target_index.map((index, k) => ({
      index,
      token_id: a.completion_token_ids[index] ?? 0,
      p_original: a.target_p_original[k] ?? 0,
      converged: a.target_converged[k] === 1,
      probes_converged: 0,
      probes_total: 0,
      steps: a.target_steps[k] ?? 0,
      importance: a.matrix[k] ?? [],
    })),
    sequence: { importance: a.importance, aggregation: "rollout_mean" },
    words: [],
    segments: rows.segments.map((g) => ({ name: g.name, kind: g.kind as AttributionResult["segments"][number]["kind"], message_index: g.message_index, share: g.share, tokens: g.tokens })),
    // The stores keep the unit level, not the per-unit list (spans and segment shares cover it).
    unit_level: (unitLevels as readonly string[]).includes(a.unit_level) ? (a.unit_level as UnitLevel) : "token",
    units: [],
    spans: rows.spans.map((s) => ({
      rank: s.rank,
      text: s.text ?? "",
      start: s.char_start,
      end: s.char_end,
      token_start: s.token_start,
      token_end: s.token_end,
      score: s.score,
      segment: s.segment,
      role: s.role as AttributionResult["spans"][number]["role"],
      message_index: s.message_index,
    })),
    convergence: {
      converged: a.converged === 1,
      targets_converged: a.targets_converged,
      targets_total: a.targets_total,
      probes_converged: a.probes_converged,
      probes_total: a.probes_total,
      steps_total: a.steps_total,
      steps_max: a.steps_max,
    },
    cost: { model_calls: a.model_calls, sequences_evaluated: a.sequences_evaluated, tokens_processed: a.tokens_processed },
    timings: { started_at: a.started_at, duration_ms: a.duration_ms },
    faithfulness: a.faithfulness_computed === 1 ? Object.fromEntries(a.faithfulness_names.map((n, i) => [n, a.faithfulness_values[i] ?? 0])) : null,
    warnings: a.warnings,
  };
}
