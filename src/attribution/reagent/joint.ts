/**
 * Joint mode: the same per-target probes, update rule and aggregation as reference mode, with
 * the model calls shared across target tokens, and (by default) a cheaper stopping rule.
 *
 * - Update: per probe index b, ONE perturbed copy of prompt ++ completion is scored with
 *   teacher forcing; position P+t gives p(y_t | perturbed context of target t) for every target
 *   at once. Target t's probe b is updated with the replacement set restricted to its own
 *   context [0, P+t). When the perturbation replaced the completion token at P+t itself (it is
 *   context for later targets), that slot no longer scores y_t, so target t simply skips this
 *   step's update: the replacement of its context is independent of that event, so the skip
 *   biases nothing, it only costs target t a step.
 * - Features: the loop runs on feature slots (features.ts). At token level a slot is a position
 *   (as published); at unit level a slot is a unit replaced as a whole, so a 2,000-token prompt
 *   of 10 documents has 10 scores per probe (segment-first.ts refines the top units to tokens).
 * - Stopping checks of every live target (per-probe rule: every live (target, probe) pair) go
 *   out in one batch call.
 * - `stopping: probe` is the published per-probe rule; `check_every` > 1 checks a probe after
 *   every `check_every`-th update it received (and at the last step), a documented deviation.
 * - `stopping: ensemble` (a deviation, joint mode's default with min_steps 50 and patience 100;
 *   measured equal recall, docs/benchmarks.md): each target is checked once per step, on the
 *   top-n of its probes' aggregate, and all its probes stop together when that set suffices.
 * - `stopping: restore` (a deviation for real models and long prompts, docs/attribution.md):
 *   the target's top-n is tracked every step at no cost; once it has been unchanged for
 *   `stable_steps` steps, one check keeps max(n, keep_fraction · features) features and passes
 *   when the kept context restores `restore` of p_orig (or keeps the target in the top-k).
 *   A failed check waits for another stable run. `restore: 0` stops on stability alone.
 * - `min_steps` S > 0: no check before a probe (ensemble/restore: every probe of the target)
 *   received S updates, so every probe in the aggregate carries at least S updates' evidence.
 * - `patience` S > 0: a target none of whose probes converged within S steps is given up like
 *   one that reached T_max (`converged: false`, mean over all probes).
 * - `aggregation: pooled` (a deviation, opt-in): softmax of the probes' mean z, used by the
 *   ensemble/restore checks and the result; `probes` (default over tokens) is the published mean
 *   of softmax(z); `surrogate` (a deviation, the default over units): a Lasso over every update
 *   draw of the target (surrogate.ts), pooled z while that fit has no positive weight yet; the
 *   result keeps only the weights above the draws' noise.
 * Cost: 1 + Σ_steps (probe indices with any live target + checks) sequences, against
 * reference mode's Σ_targets (1 + Σ_steps 2·live probes).
 */
import { keptCount, reagentSettings, type StoppingSettings } from "../config.js";
import { tokenLayout, type FeatureLayout } from "../features.js";
import type { MethodDeps, MethodOutput, TargetAttribution, TargetsInput } from "../targets.js";
import { probabilityOf, samplerContext } from "../targets.js";
import { unperturbedPass, type UnperturbedPass } from "../unperturbed.js";
import { topNIndices } from "../vector-math.js";
import { ProbeSet, aggregateProbes, applyUpdate, drawReplacement, scoreOf, stoppingReplacement } from "./probes.js";
import { segmentFirst } from "./segment-first.js";
import { DrawLog, SURROGATE_MIN_T } from "./surrogate.js";

/** Probe index of an ensemble check: it speaks for all of the target's probes. */
const ALL_PROBES = -1;

interface TargetState {
  readonly t: number;
  readonly position: number;
  readonly y: number;
  readonly pOrig: number;
  /** Feature slots in this target's context. */
  readonly slots: number;
  readonly probes: ProbeSet;
  /** Per slot. */
  readonly replaceable: readonly boolean[];
  steps: number;
  /** Restore rule: the top-n slots at the last step and for how many consecutive steps they held. */
  stableKey: string;
  stableRun: number;
  /** `aggregation: surrogate`: every update draw of every probe. */
  readonly draws?: DrawLog;
}

/** A target's current scores under the configured aggregation (the stopping checks' and the result's). */
function targetScores(s: TargetState, how: MethodDeps["config"]["aggregation"]): Float64Array {
  if (how !== "surrogate") return scoreOf(s.probes.z, s.replaceable, s.slots, how);
  return s.draws?.importance() ?? scoreOf(s.probes.z, s.replaceable, s.slots, "pooled");
}

/** Log-evidence of a target below which its context does not matter: nothing to explain, the check passes. */
const NOTHING_TO_EXPLAIN = 0.1;

/**
 * The restore rule's criterion: the kept features recover at least `fraction` of the log-probability
 * the prompt adds over no prompt, (ln p_kept − ln p_empty) / (ln p_orig − ln p_empty) ≥ fraction.
 * Relative to the target's own p_orig, so a target with p_orig = 0.012 can pass.
 */
export function restores(logpKept: number | null, pOrig: number, pEmpty: number, fraction: number): boolean {
  if (logpKept === null || Number.isNaN(logpKept)) return false;
  const lo = Math.log(Math.max(pEmpty, 1e-30));
  const gain = Math.log(Math.max(pOrig, 1e-30)) - lo;
  if (gain < NOTHING_TO_EXPLAIN) return true;
  return (logpKept - lo) / gain >= fraction;
}

/**
 * What must hold for `stable_steps` steps before a restore check: the set of the top
 * `keepTopN` features and, with `ranks` > 0, the order of the top `ranks`. With few features
 * (units) the set alone is no evidence: 5 of 5 units is always the same set.
 */
export function restoreStabilityKey(scores: Float64Array, replaceable: readonly boolean[], keepTopN: number, ranks: number): string {
  const set = topNIndices(scores, keepTopN, replaceable)
    .sort((a, b) => a - b)
    .join(",");
  return ranks > 0 ? `${topNIndices(scores, ranks, replaceable).join(",")}|${set}` : set;
}

/**
 * Features a restore check keeps: n or the configured share, but always fewer than there are,
 * so the check replaces something (keeping all of 5 units would pass without testing anything).
 */
export function restoreKeep(rule: StoppingSettings, features: number): number {
  return Math.max(1, Math.min(keptCount(rule, features), features - 1));
}

/** One sequence with every replaceable prompt feature replaced: p(y_t | completion so far, no prompt) for every target. */
async function emptyPromptPass(
  input: TargetsInput,
  layout: FeatureLayout,
  seq: readonly number[],
  deps: MethodDeps,
  sctx: ReturnType<typeof samplerContext>,
  opts: { topK: number; signal?: AbortSignal },
): Promise<Map<number, number>> {
  const P = input.promptLength;
  const all = layout.expand(
    layout.replaceable.map((r, k) => r && layout.positionsOf(k).every((p) => p < P)),
    seq.length,
  );
  const [ids] = await deps.sampler.sample([{ ids: seq, replace: all }], deps.rng.fork("empty"), sctx);
  const positions = input.targets.map((t) => P + t);
  const [scored] = await deps.scorer.score([{ ids: ids as number[], positions }], opts);
  return new Map((scored?.positions ?? []).map((p) => [p.position, p.logprob === null ? 0 : Math.exp(p.logprob)]));
}

/** A target's result plus its per-slot importance (unit shares at unit level). */
export interface LoopTarget extends TargetAttribution {
  readonly slotImportance: Float64Array;
}

export async function reagentJoint(input: TargetsInput, deps: MethodDeps): Promise<MethodOutput> {
  if (input.targets.length === 0) return { targets: [], warnings: [] };
  const base = await unperturbedPass(input, deps, deps.sampler.id === "self");
  if (input.units !== undefined) return segmentFirst(input, input.units, deps, base);
  const out = await jointLoop(input, tokenLayout(input), deps, base);
  return { targets: out.targets, warnings: out.warnings };
}

/** The joint loop over any feature layout; `base` is the shared unperturbed pass. */
export async function jointLoop(
  input: TargetsInput,
  layout: FeatureLayout,
  deps: MethodDeps,
  base: UnperturbedPass,
): Promise<{ targets: LoopTarget[]; warnings: string[] }> {
  const cfg = deps.config;
  const m = reagentSettings(cfg);
  const rule = cfg.stopping;
  const checkEvery = rule.type === "probe" ? rule.check_every : 1;
  const P = input.promptLength;
  const warnings: string[] = [];
  const opts = { topK: rule.top_k, ...(deps.signal ? { signal: deps.signal } : {}) };
  if (input.targets.length === 0) return { targets: [], warnings };

  const sctx = samplerContext(input.ids, base.topKByPosition);
  const lastTarget = input.targets[input.targets.length - 1] as number;
  const seqLen = P + lastTarget + 1; // nothing after the last attributed target is needed
  const seq = input.ids.slice(0, seqLen);
  // Every slot before the last target's is context for some target.
  const drawSlots = layout.slotsBefore(seqLen - 1);

  const states: TargetState[] = input.targets.map((t) => {
    const position = P + t;
    const slots = layout.slotsBefore(position);
    const replaceable = layout.replaceable.slice(0, slots);
    return {
      t,
      position,
      y: input.ids[position] as number,
      pOrig: base.pOriginal[t] as number,
      slots,
      probes: new ProbeSet(slots, replaceable, m.num_probes, deps.rng.fork(`target:${t}`)),
      replaceable,
      steps: 0,
      stableKey: "",
      stableRun: 0,
      ...(cfg.aggregation === "surrogate" ? { draws: new DrawLog(replaceable) } : {}),
    };
  });
  const rng = deps.rng.fork("joint");
  // Restore rule: p(target | no prompt at all), the floor the kept features restore from.
  const pEmpty = rule.type === "restore" && rule.restore > 0 ? await emptyPromptPass(input, layout, seq, deps, sctx, opts) : undefined;

  let step = 0;
  while (step < m.max_steps && states.some((s) => !s.probes.allStopped())) {
    deps.signal?.throwIfAborted();
    step++;
    for (const s of states) if (!s.probes.allStopped()) s.steps = step;

    // Update: one teacher-forced sequence per probe index that still has a live target.
    const probeIdx: number[] = [];
    for (let b = 0; b < m.num_probes; b++) if (states.some((s) => s.probes.isLive(b))) probeIdx.push(b);
    const slotMasks = probeIdx.map(() => drawReplacement(drawSlots, layout.replaceable, m.replacing_ratio, rng));
    const masks = slotMasks.map((sm) => layout.expand(sm, seqLen - 1));
    const perturbed = await deps.sampler.sample(
      masks.map((replace) => ({ ids: seq, replace: [...replace, false] })),
      rng,
      sctx,
    );
    const requests = probeIdx.map((b, j) => ({
      ids: perturbed[j] as number[],
      positions: states.filter((s) => s.probes.isLive(b) && !(masks[j] as boolean[])[s.position]).map((s) => s.position),
    }));
    // A sequence whose every live target had its own slot replaced measures nothing: not sent.
    const sent = requests.map((r, j) => ({ r, j })).filter(({ r }) => r.positions.length > 0);
    const scoredSent = await deps.scorer.score(
      sent.map(({ r }) => r),
      opts,
    );
    const scored = new Map(sent.map(({ j }, k) => [j, scoredSent[k]]));
    const updated = new Set<string>();
    probeIdx.forEach((b, j) => {
      const mask = masks[j] as boolean[];
      const byPos = new Map((scored.get(j)?.positions ?? []).map((p) => [p.position, p]));
      for (const s of states) {
        if (!s.probes.isLive(b) || mask[s.position]) continue;
        const p = probabilityOf(byPos.get(s.position)?.logprob ?? null, `scoring a joint update step at position ${s.position}`);
        applyUpdate(s.probes.z[b] as Float64Array, slotMasks[j] as boolean[], s.replaceable, s.pOrig - p, m.clamp_eps);
        s.draws?.add(slotMasks[j] as boolean[], p);
        s.probes.steps[b] = (s.probes.steps[b] as number) + 1;
        updated.add(`${s.t}:${b}`);
      }
    });

    // Stopping checks for every live (target, probe) pair that is due, in one batch.
    const due: { s: TargetState; b: number; ids: readonly number[]; replace: boolean[] }[] = [];
    const last = step >= m.max_steps;
    for (const s of states) {
      if (rule.type === "ensemble" || rule.type === "restore") {
        const live = s.probes.live();
        if (live.length === 0 || !live.some((b) => updated.has(`${s.t}:${b}`))) continue;
        if (!last && live.some((b) => (s.probes.steps[b] as number) < rule.min_steps)) continue;
        const mean = targetScores(s, cfg.aggregation);
        let keep = rule.keep_top_n;
        if (rule.type === "restore") {
          // Stability is free (no model call): track the top-n, check only once it held.
          const key = restoreStabilityKey(mean, s.replaceable, rule.keep_top_n, rule.stable_ranks);
          s.stableRun = key === s.stableKey ? s.stableRun + 1 : 1;
          s.stableKey = key;
          if (s.stableRun < rule.stable_steps && !last) continue;
          if (rule.restore === 0) {
            if (s.stableRun >= rule.stable_steps) s.probes.stopped.fill(true);
            continue;
          }
          keep = restoreKeep(rule, s.replaceable.filter(Boolean).length);
        }
        const { replace } = stoppingReplacement(mean, s.replaceable, keep);
        due.push({ s, b: ALL_PROBES, ids: seq.slice(0, s.position), replace: layout.expand(replace, s.position) });
        continue;
      }
      for (const b of s.probes.live()) {
        // Update first, then check (as the original orders each step): no check before a probe's first update.
        if ((s.probes.steps[b] as number) === 0) continue;
        if (!last && (s.probes.steps[b] as number) < rule.min_steps) continue;
        const z = s.probes.z[b] as Float64Array;
        // Check right after an update (the original's order), on every check_every-th update.
        if (!last && (!updated.has(`${s.t}:${b}`) || (s.probes.steps[b] as number) % checkEvery !== 0)) continue;
        const { replace } = stoppingReplacement(z, s.replaceable, rule.keep_top_n);
        due.push({ s, b, ids: seq.slice(0, s.position), replace: layout.expand(replace, s.position) });
      }
    }
    if (due.length > 0) {
      const kept = await deps.sampler.sample(
        due.map((d) => ({ ids: d.ids, replace: d.replace })),
        rng,
        sctx,
      );
      const chk = await deps.scorer.score(
        due.map((d, j) => ({ ids: [...(kept[j] as number[]), d.s.y], positions: [d.s.position] })),
        opts,
      );
      due.forEach((d, j) => {
        const at = chk[j]?.positions[0];
        let passed = (at?.topK ?? []).slice(0, rule.top_k).includes(d.s.y);
        if (!passed && rule.type === "restore") passed = restores(at?.logprob ?? null, d.s.pOrig, pEmpty?.get(d.s.position) ?? 0, rule.restore);
        if (d.b === ALL_PROBES) {
          if (passed) d.s.probes.stopped.fill(true);
          else d.s.stableRun = 0; // restore: wait for another stable run before the next check
          return;
        }
        if (passed) d.s.probes.stopped[d.b] = true;
      });
    }
    for (const s of states) {
      if (s.probes.allStopped()) continue;
      if (rule.patience > 0 && step >= rule.patience && s.probes.convergedCount() === 0) s.probes.retireLive();
    }
    const live = states.reduce((n, s) => n + s.probes.live().length, 0);
    const doneTargets = states.filter((s) => s.probes.allStopped()).length;
    deps.onProgress?.({ phase: "probing", targetsDone: doneTargets, targetsTotal: states.length, step, liveProbes: live });
  }

  const out: LoopTarget[] = states.map((s) => {
    const agg = aggregateProbes(s.probes, cfg.aggregation === "surrogate" ? "pooled" : cfg.aggregation);
    // The surrogate reads every draw: at unit level all probes stop together, so converged or not is the same set.
    // The result drops surrogate weights within noise; the stopping checks above read the whole fit.
    const read = cfg.aggregation === "surrogate" ? s.draws?.read(SURROGATE_MIN_T) : undefined;
    if (read && !read.significant) {
      warnings.push(`target ${s.t}: no feature's surrogate weight is ${SURROGATE_MIN_T} standard errors above zero; its shares are within the draws' noise`);
    }
    const importance = cfg.aggregation === "surrogate" ? (read?.importance ?? targetScores(s, "pooled")) : agg.importance;
    if (!agg.converged) {
      const limit = s.steps < m.max_steps && rule.patience > 0 ? `${s.steps} steps (patience)` : `${m.max_steps} steps`;
      warnings.push(`target ${s.t}: no probe converged within ${limit}; importance is ${cfg.aggregation === "surrogate" ? "the surrogate over all draws" : "the mean over all probes"}`);
    }
    return {
      index: s.t,
      tokenId: s.y,
      importance: layout.spread(importance, s.position),
      slotImportance: importance,
      pOriginal: s.pOrig,
      converged: agg.converged,
      probesConverged: agg.probesConverged,
      probesTotal: s.probes.numProbes,
      steps: s.steps,
    };
  });
  deps.onProgress?.({ phase: "done", targetsDone: states.length, targetsTotal: states.length, step, liveProbes: 0 });
  return { targets: out, warnings };
}
