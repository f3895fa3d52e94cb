/**
 * Replacement-token samplers: where the tokens that stand in for "removed" context come from.
 * The sampler is chosen from config and recorded in every result; the same sampler serves the
 * update step and the stopping check (as in the released ReAGent code).
 *
 * Contract every sampler keeps (tested for each in one suite):
 * - only positions with `replace[i] === true` may change; all others keep `ids[i]`;
 * - a special token is never replaced and never drawn;
 * - the output has the input's length (positions stay aligned).
 */
import type { Rng } from "../rng.js";
import type { SamplerId } from "../config.js";

export interface SampleRequest {
  readonly ids: readonly number[];
  readonly replace: readonly boolean[];
}

/** Facts about the record being attributed that some samplers use. */
export interface SamplerRecordContext {
  /** The unperturbed sequence (prompt ++ completion). */
  readonly originalIds: readonly number[];
  /** Per position i >= 1: the target model's top ids for that slot from the unperturbed pass (`self` sampler). */
  readonly topKByPosition?: readonly (readonly number[])[];
}

export interface TokenSampler {
  readonly id: SamplerId;
  /** Human-readable provenance, e.g. "pos (Penn tags via pos-js, 4096 ids, 36 groups)". */
  readonly description: string;
  sample(reqs: readonly SampleRequest[], rng: Rng, ctx: SamplerRecordContext): Promise<number[][]>;
}

/** Ids a sampler may draw: in the model's vocabulary, not special. */
export function drawableIds(size: number, special: ReadonlySet<number>): Int32Array {
  const out: number[] = [];
  for (let i = 0; i < size; i++) if (!special.has(i)) out.push(i);
  return Int32Array.from(out);
}
