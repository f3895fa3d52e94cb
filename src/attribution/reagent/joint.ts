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
 * - Stopping checks of every live target (per-probe rule: every live (target, probe) pair) go
 *   out in one batch call.
 * - `check_every` > 1 checks a probe after every `check_every`-th update it received (and at
 *   the last step), a documented deviation: detection is delayed by up to check_every−1 updates,
 *   which the probe spends refining its scores; checks shrink by that factor.
 * - `stopping: ensemble` (a deviation, joint mode's default with min_steps 50 and patience 100;
 *   measured equal recall, docs/benchmarks.md): each target is checked once per step, on the
 *   top-n of the mean of its probes' softmax(z), and all its probes stop together when that set
 *   suffices; checks fall from one per (target, probe) to one per target. `stopping: probe` is
 *   the published per-probe rule.
 * - `min_steps` S > 0 (a deviation): no check before a probe (ensemble: every probe of the
 *   target) received S updates, so every probe in the mean carries at least S updates' evidence.
 * - `patience` S > 0 (a deviation): a target none of whose probes converged within S steps is
 *   given up like one that reached T_max (`converged: false`, mean over all probes): a target
 *   that n kept tokens cannot explain otherwise holds every probe's update pass until T_max.
 * - `aggregation: pooled` (a deviation, opt-in): softmax of the probes' mean z, used by the
 *   ensemble check and the result; `probes` (default) is the published mean of softmax(z).
 * Cost: 1 + Σ_steps (probe indices with any live target + checks) sequences, against
 * reference mode's Σ_targets (1 + Σ_steps 2·live probes).
 */
import type { MethodDeps, MethodOutput, TargetAttribution, TargetsInput } from "../targets.js";
import { reagentSettings } from "../config.js";
import { probabilityOf, samplerContext } from "../targets.js";
import { unperturbedPass } from "../unperturbed.js";
import { ProbeSet, aggregateProbes, applyUpdate, drawReplacement, scoreOf, stoppingReplacement } from "./probes.js";

/** Probe index of an ensemble check: it speaks for all of the target's probes. */
const ALL_PROBES = -1;

interface TargetState {
  readonly t: number;
  readonly position: number;
  readonly y: number;
  readonly pOrig: number;
  readonly probes: ProbeSet;
  readonly replaceable: readonly boolean[];
  steps: number;
}

export async function reagentJoint(input: TargetsInput, deps: MethodDeps): Promise<MethodOutput> {
  const cfg = deps.config;
  const m = reagentSettings(cfg);
  const rule = cfg.stopping;
  const checkEvery = rule.type === "probe" ? rule.check_every : 1;
  const P = input.promptLength;
  const warnings: string[] = [];
  const opts = { topK: rule.top_k, ...(deps.signal ? { signal: deps.signal } : {}) };
  if (input.targets.length === 0) return { targets: [], warnings };

  const base = await unperturbedPass(input, deps, deps.sampler.id === "self");
  const sctx = samplerContext(input.ids, base.topKByPosition);
  const lastTarget = input.targets[input.targets.length - 1] as number;
  const seqLen = P + lastTarget + 1; // nothing after the last attributed target is needed
  const seq = input.ids.slice(0, seqLen);
  // Every position before the last target's slot is context for some target.
  const ctxReplaceable = input.replaceable.slice(0, seqLen - 1);

  const states: TargetState[] = input.targets.map((t) => {
    const position = P + t;
    const replaceable = input.replaceable.slice(0, position);
    return {
      t,
      position,
      y: input.ids[position] as number,
      pOrig: base.pOriginal[t] as number,
      probes: new ProbeSet(position, replaceable, m.num_probes, deps.rng.fork(`target:${t}`)),
      replaceable,
      steps: 0,
    };
  });
  const rng = deps.rng.fork("joint");

  let step = 0;
  while (step < m.max_steps && states.some((s) => !s.probes.allStopped())) {
    deps.signal?.throwIfAborted();
    step++;
    for (const s of states) if (!s.probes.allStopped()) s.steps = step;

    // Update: one teacher-forced sequence per probe index that still has a live target.
    const probeIdx: number[] = [];
    for (let b = 0; b < m.num_probes; b++) if (states.some((s) => s.probes.isLive(b))) probeIdx.push(b);
    const masks = probeIdx.map(() => drawReplacement(seqLen - 1, ctxReplaceable, m.replacing_ratio, rng));
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
    const scoredSent = await deps.scorer.score(sent.map(({ r }) => r), opts);
    const scored = new Map(sent.map(({ j }, k) => [j, scoredSent[k]]));
    const updated = new Set<string>();
    probeIdx.forEach((b, j) => {
      const mask = masks[j] as boolean[];
      const byPos = new Map((scored.get(j)?.positions ?? []).map((p) => [p.position, p]));
      for (const s of states) {
        if (!s.probes.isLive(b) || mask[s.position]) continue;
        const p = probabilityOf(byPos.get(s.position)?.logprob ?? null, `scoring a joint update step at position ${s.position}`);
        applyUpdate(s.probes.z[b] as Float64Array, mask, s.replaceable, s.pOrig - p, m.clamp_eps);
        s.probes.steps[b] = (s.probes.steps[b] as number) + 1;
        updated.add(`${s.t}:${b}`);
      }
    });

    // Stopping checks for every live (target, probe) pair that is due, in one batch.
    const due: { s: TargetState; b: number; ids: readonly number[]; replace: boolean[] }[] = [];
    for (const s of states) {
      if (rule.type === "ensemble") {
        const live = s.probes.live();
        if (live.length === 0 || !live.some((b) => updated.has(`${s.t}:${b}`))) continue;
        if (step < m.max_steps && live.some((b) => (s.probes.steps[b] as number) < rule.min_steps)) continue;
        const mean = scoreOf(s.probes.z, s.replaceable, s.position, cfg.aggregation);
        const { replace } = stoppingReplacement(mean, s.replaceable, rule.keep_top_n);
        due.push({ s, b: ALL_PROBES, ids: seq.slice(0, s.position), replace });
        continue;
      }
      for (const b of s.probes.live()) {
        // Update first, then check (as the original orders each step): no check before a probe's first update.
        if ((s.probes.steps[b] as number) === 0) continue;
        if (step < m.max_steps && (s.probes.steps[b] as number) < rule.min_steps) continue;
        const z = s.probes.z[b] as Float64Array;
        // Check right after an update (the original's order), on every check_every-th update.
        const last = step >= m.max_steps;
        if (!last && (!updated.has(`${s.t}:${b}`) || (s.probes.steps[b] as number) % checkEvery !== 0)) continue;
        const { replace } = stoppingReplacement(z, s.replaceable, rule.keep_top_n);
        due.push({ s, b, ids: seq.slice(0, s.position), replace });
      }
    }
    if (due.length > 0) {
      const kept = await deps.sampler.sample(due.map((d) => ({ ids: d.ids, replace: d.replace })), rng, sctx);
      const chk = await deps.scorer.score(
        due.map((d, j) => ({ ids: [...(kept[j] as number[]), d.s.y], positions: [d.s.position] })),
        opts,
      );
      due.forEach((d, j) => {
        const passed = (chk[j]?.positions[0]?.topK ?? []).slice(0, rule.top_k).includes(d.s.y);
        if (d.b === ALL_PROBES) {
          if (passed) d.s.probes.stopped.fill(true);
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

  const out: TargetAttribution[] = states.map((s) => {
    const agg = aggregateProbes(s.probes, cfg.aggregation);
    if (!agg.converged) {
      const limit = s.steps < m.max_steps && rule.patience > 0 ? `${s.steps} steps (patience)` : `${m.max_steps} steps`;
      warnings.push(`target ${s.t}: no probe converged within ${limit}; importance is the mean over all probes`);
    }
    return {
      index: s.t,
      tokenId: s.y,
      importance: agg.importance,
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
