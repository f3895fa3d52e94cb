/**
 * The id-level attribution problem every method solves, and what it returns per target token.
 * Methods (ReAGent reference/joint, leave-one-out, random) import only these types, a Scorer and
 * a TokenSampler; tokenisation, spans and segments are layered on top (attribute-text.ts).
 */
import type { CountingScorer } from "./scorer.js";
import type { EngineConfig } from "./config.js";
import type { Rng } from "./rng.js";
import type { SamplerRecordContext, TokenSampler } from "./samplers/sampler.js";
import { ScoringError } from "../errors.js";

export interface TargetsInput {
  /** prompt ++ completion, in the scorer's vocabulary. */
  readonly ids: readonly number[];
  readonly promptLength: number;
  /** Per position of `ids`: false for BOS, special and chat-template tokens (never replaced). */
  readonly replaceable: readonly boolean[];
  /** Completion indices to attribute, ascending (target i sits at position promptLength + i). */
  readonly targets: readonly number[];
  /**
   * Unit-level attribution: the replaceable prompt positions of each unit (sentence, message,
   * segment, …), in prompt order. Absent at token level.
   */
  readonly units?: readonly (readonly number[])[];
}

export interface TargetAttribution {
  /** Index in the completion. */
  readonly index: number;
  readonly tokenId: number;
  /** One value per context position (prompt + earlier completion tokens); non-negative, sums to 1. */
  readonly importance: Float64Array;
  /** p(target | unperturbed context). */
  readonly pOriginal: number;
  readonly converged: boolean;
  readonly probesConverged: number;
  readonly probesTotal: number;
  /** Update steps run for this target (the slowest probe's count). */
  readonly steps: number;
}

export interface ProgressEvent {
  readonly phase: "baseline" | "probing" | "done";
  readonly targetsDone: number;
  readonly targetsTotal: number;
  readonly step: number;
  readonly liveProbes: number;
}

export interface MethodDeps {
  readonly scorer: CountingScorer;
  readonly sampler: TokenSampler;
  readonly rng: Rng;
  readonly config: EngineConfig;
  readonly onProgress?: (e: ProgressEvent) => void;
  readonly signal?: AbortSignal;
}

export interface MethodOutput {
  readonly targets: TargetAttribution[];
  readonly warnings: string[];
  /** Unit level: each unit's share of the completion (mean over targets), and the units refined to tokens. */
  readonly units?: { readonly scores: readonly number[]; readonly refined: readonly number[] };
}

export type AttributionMethod = (input: TargetsInput, deps: MethodDeps) => Promise<MethodOutput>;

/** Probability from a scored position; a scorer that returned no log-probability is an error the caller sees. */
export function probabilityOf(logprob: number | null, what: string): number {
  if (logprob === null || Number.isNaN(logprob)) {
    throw new ScoringError({ what, why: "the scorer returned no log-probability for the target token (is it outside the endpoint's reported top-k?)" });
  }
  return Math.exp(logprob);
}

/** Sampler context for a record: the unperturbed ids and, when the sampler needs it, the top-k table. */
export function samplerContext(ids: readonly number[], topK?: readonly (readonly number[])[]): SamplerRecordContext {
  return topK ? { originalIds: ids, topKByPosition: topK } : { originalIds: ids };
}
