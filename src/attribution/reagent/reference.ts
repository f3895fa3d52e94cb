/**
 * Reference mode: the published ReAGent procedure (reference/reagent.md §2–3), one fresh run per
 * target token over the prompt plus the completion tokens before it.
 *
 * Per step, for the probes still running: one batch of update sequences (random Bernoulli(r)
 * replacement, Δp of the target) and one batch of stopping checks (keep top-n, replace the rest,
 * is the target in the top-k?). Stopped probes are frozen and not re-scored (an allowed saving,
 * §2.3), which changes only how much randomness is consumed.
 * Cost per target: 1 + Σ_steps 2·(live probes) sequences.
 */
import type { MethodDeps, MethodOutput, TargetAttribution, TargetsInput } from "../targets.js";
import { reagentSettings } from "../config.js";
import { probabilityOf, samplerContext } from "../targets.js";
import { unperturbedPass } from "../unperturbed.js";
import { ProbeSet, aggregateProbes, applyUpdate, drawReplacement, stoppingReplacement } from "./probes.js";

export async function reagentReference(input: TargetsInput, deps: MethodDeps): Promise<MethodOutput> {
  const m = reagentSettings(deps.config);
  const rule = deps.config.stopping;
  const P = input.promptLength;
  const warnings: string[] = [];
  const needTable = deps.sampler.id === "self";
  const table = needTable ? (await unperturbedPass(input, deps, true)).topKByPosition : undefined;
  const sctx = samplerContext(input.ids, table);
  const opts = { topK: rule.top_k, ...(deps.signal ? { signal: deps.signal } : {}) };
  const out: TargetAttribution[] = [];

  for (const [done, t] of input.targets.entries()) {
    const L = P + t;
    const ctx = input.ids.slice(0, L);
    const y = input.ids[L] as number;
    const replaceable = input.replaceable.slice(0, L);
    const rng = deps.rng.fork(`target:${t}`);

    // p_orig: one sequence, as the original computes it per target.
    const [orig] = await deps.scorer.score([{ ids: [...ctx, y], positions: [L] }], opts);
    const pOrig = probabilityOf(orig?.positions[0]?.logprob ?? null, `scoring target ${t} in its original context`);

    const probes = new ProbeSet(L, replaceable, m.num_probes, rng);
    let step = 0;
    while (step < m.max_steps && !probes.allStopped()) {
      deps.signal?.throwIfAborted();
      step++;
      const live = probes.live();

      // Update: Bernoulli(r) replacement, Δp of the target, z += ±2·atanh(Δp).
      const masks = live.map(() => drawReplacement(L, replaceable, m.replacing_ratio, rng));
      const perturbed = await deps.sampler.sample(masks.map((replace) => ({ ids: ctx, replace })), rng, sctx);
      const upd = await deps.scorer.score(perturbed.map((ids) => ({ ids: [...ids, y], positions: [L] })), opts);
      live.forEach((b, j) => {
        const p = probabilityOf(upd[j]?.positions[0]?.logprob ?? null, `scoring an update step of target ${t}`);
        applyUpdate(probes.z[b] as Float64Array, masks[j] as boolean[], replaceable, pOrig - p, m.clamp_eps);
        probes.steps[b] = step;
      });

      // Stopping check: keep the top-n, replace the rest, stop once y is in the top-k.
      const checks = live.map((b) => stoppingReplacement(probes.z[b] as Float64Array, replaceable, rule.keep_top_n).replace);
      const kept = await deps.sampler.sample(checks.map((replace) => ({ ids: ctx, replace })), rng, sctx);
      const chk = await deps.scorer.score(kept.map((ids) => ({ ids: [...ids, y], positions: [L] })), opts);
      live.forEach((b, j) => {
        if ((chk[j]?.positions[0]?.topK ?? []).slice(0, rule.top_k).includes(y)) probes.stopped[b] = true;
      });
      deps.onProgress?.({ phase: "probing", targetsDone: done, targetsTotal: input.targets.length, step, liveProbes: probes.live().length });
    }

    const agg = aggregateProbes(probes);
    if (!agg.converged) warnings.push(`target ${t}: no probe converged within ${m.max_steps} steps; importance is the mean over all probes`);
    out.push({
      index: t,
      tokenId: y,
      importance: agg.importance,
      pOriginal: pOrig,
      converged: agg.converged,
      probesConverged: agg.probesConverged,
      probesTotal: probes.numProbes,
      steps: step,
    });
  }
  deps.onProgress?.({ phase: "done", targetsDone: input.targets.length, targetsTotal: input.targets.length, step: 0, liveProbes: 0 });
  return { targets: out, warnings };
}
