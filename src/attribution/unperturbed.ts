import type { MethodDeps, TargetsInput } from "./targets.js";
import { probabilityOf } from "./targets.js";

export interface UnperturbedPass {
  /** p(completion[t] | prompt + completion[<t]) for every completion index t. */
  readonly pOriginal: number[];
  /** Top ids for every slot 1..ids.length-1 (index = position); empty at 0. Only when requested. */
  readonly topKByPosition?: number[][];
}

/**
 * One teacher-forced pass over prompt ++ completion: the original probability of every
 * completion token, and (for the `self` sampler) the model's top-k at every position.
 */
export async function unperturbedPass(input: TargetsInput, deps: MethodDeps, wantTopKTable: boolean): Promise<UnperturbedPass> {
  const P = input.promptLength;
  const positions: number[] = [];
  const from = wantTopKTable ? 1 : P;
  for (let t = Math.max(1, from); t < input.ids.length; t++) positions.push(t);
  const k = deps.config.stopping.top_k;
  const selfTopK = deps.config.sampler.type === "self" ? deps.config.sampler.top_k : 5;
  const topK = wantTopKTable ? Math.max(selfTopK + 1, k) : k;
  const [scored] = await deps.scorer.score([{ ids: input.ids, positions }], { topK, ...(deps.signal ? { signal: deps.signal } : {}) });
  const byPos = new Map((scored?.positions ?? []).map((p) => [p.position, p]));
  const pOriginal: number[] = [];
  for (let t = P; t < input.ids.length; t++) pOriginal.push(probabilityOf(byPos.get(t)?.logprob ?? null, `scoring the unperturbed completion at position ${t}`));
  if (!wantTopKTable) return { pOriginal };
  const table: number[][] = [[]];
  for (let t = 1; t < input.ids.length; t++) table.push([...(byPos.get(t)?.topK ?? [])]);
  return { pOriginal, topKByPosition: table };
}
