/**
 * What every HTTP scoring protocol provides to HttpScorer, and helpers they share: zod
 * validation of bodies into typed errors, and building ScoredPositions from ranked entries.
 */
import type { z } from "zod";
import { describeIssues } from "../../config-issues.js";
import { ScorerHttpError } from "../../errors.js";
import type { ScoreSequence, ScoredPosition, ScoredSequence } from "../../attribution/scorer.js";

/** Server kinds that can teacher-force score a given continuation. */
export const serverKinds = ["vllm", "vllm-echo", "sglang", "tgi", "openai", "llama-cpp-python"] as const;
export type ServerKind = (typeof serverKinds)[number];

export interface RequestCost {
  readonly sequences: number;
  readonly promptTokens: number;
}

/**
 * Sends one POST through the guard (limits, timeout, retries, breaker) and runs `parse` on the
 * JSON answer inside the same attempt, so validation and id-mismatch failures are counted too.
 */
export type Send = <T>(path: string, body: unknown, parse: (json: unknown) => T, cost: RequestCost) => Promise<T>;

export interface ScoringProtocol {
  readonly kind: ServerKind;
  /** How it scores, for reports: "vLLM /v1/completions prompt_logprobs". */
  readonly label: string;
  /** Sequences one HTTP request carries. */
  readonly sequencesPerRequest: number;
  readonly maxTopK: number;
  readonly topKAtPromptPositions: boolean;
  readonly acceptsTokenIds: boolean;
  /** A variant that changes results, recorded in the scorer id (TGI's `topk-probe` / `topk-bound`). */
  readonly variant?: string | undefined;
  /** Text-only protocols: whether these ids survive the trip through text (their text re-tokenises to them). */
  accepts?(ids: readonly number[]): boolean;
  /** Every sequence must start with this id (llama-cpp-python aligns its logprobs only after BOS). */
  readonly requiredFirstId?: number | undefined;
  /** A note every result scored this way should carry (TGI's synthesised top-k), if any. */
  readonly note?: string | undefined;
  /** Score up to `sequencesPerRequest` sequences (positions already validated). */
  scoreGroup(group: readonly ScoreSequence[], k: number, send: Send): Promise<ScoredSequence[]>;
  /** Whether `generate` works for this server (false or absent: no generation). */
  readonly canGenerate?: boolean;
  /** Greedy continuation, where the protocol can generate. */
  generate?(ids: readonly number[], maxNewTokens: number, stopIds: ReadonlySet<number>, send: Send): Promise<number[]>;
}

/** Validate a body with zod; a body of the wrong shape is a non-retryable ScorerHttpError naming the first problems. */
export function parseBody<S extends z.ZodType>(schema: S, json: unknown, what: string, endpoint: string): z.infer<S> {
  const res = schema.safeParse(json);
  if (res.success) return res.data;
  const issues = describeIssues(res.error.issues.slice(0, 3));
  throw new ScorerHttpError({
    what,
    why: `the answer does not have the expected shape (${issues}); is the server kind right?`,
    endpoint,
    bodySnippet: JSON.stringify(json)?.slice(0, 300),
    retryable: false,
    details: { kind: "malformed" },
  });
}

/** A ScoredPosition from ranked (id, logprob) entries, best first. */
export function scoredPosition(position: number, logprob: number | null, top: { ids: readonly number[]; logprobs: readonly number[] }, rank?: number): ScoredPosition {
  return {
    position,
    logprob,
    topK: [...top.ids],
    topKLogprobs: [...top.logprobs],
    ...(rank === undefined ? {} : { rank }),
  };
}

/** Rank of `actual` when it is in a true top-k list (1-based), else undefined. */
export function rankInTop(actual: number | undefined, ids: readonly number[]): number | undefined {
  if (actual === undefined) return undefined;
  const i = ids.indexOf(actual);
  return i < 0 ? undefined : i + 1;
}

/** Sort (id, logprob) pairs best first (ties: lower id first) and keep `k`. */
export function topOf(pairs: readonly (readonly [number, number])[], k: number): { ids: number[]; logprobs: number[] } {
  const sorted = [...pairs].sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, k);
  return { ids: sorted.map((p) => p[0]), logprobs: sorted.map((p) => p[1]) };
}

/** The ids a request needs: up to and including the last scored token (all of them for the next-token slot). */
export function idsNeeded(s: ScoreSequence): readonly number[] {
  let last = 0;
  for (const p of s.positions) if (p > last) last = p;
  return last >= s.ids.length ? s.ids : s.ids.slice(0, last + 1);
}

export function wantsNextSlot(s: ScoreSequence): boolean {
  return s.positions.includes(s.ids.length);
}

/** First index where two id lists differ, or undefined when they are equal. */
export function firstDifference(a: readonly number[], b: readonly number[]): number | undefined {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return undefined;
}
