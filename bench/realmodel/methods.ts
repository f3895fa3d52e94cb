/** The methods bench/realmodel knows (run.ts, inspect.ts), as engine settings. */
import type { EngineConfigInput } from "../../src/attribution/config.js";

/** The methods this harness knows, as engine settings. New methods from src/attribution get a line here. */
export const METHODS: Record<string, { readonly cfg: EngineConfigInput; readonly seeded: boolean }> = {
  joint: { cfg: { method: "reagent", mode: "joint" }, seeded: true },
  loo: { cfg: { method: "loo" }, seeded: false },
  random: { cfg: { method: "random" }, seeded: true },
  // Unit-level methods: a unit is a paragraph (the items' documents and paragraphs are separated by blank lines).
  segfirst: { cfg: { method: "reagent", mode: "joint", units: "paragraph" }, seeded: true },
  // Unit stage only (no token refinement inside the top unit): the cost of ranking the documents.
  "segfirst-u": { cfg: { method: "reagent", mode: "joint", units: { type: "paragraph", refine_top: 0 } }, seeded: true },
  // The engine's default before session 7 (pooled z at unit level), for comparison with the surrogate default.
  "segfirst-p": { cfg: { method: "reagent", mode: "joint", units: "paragraph", aggregation: "pooled" }, seeded: true },
  "segfirst-sent": { cfg: { method: "reagent", mode: "joint", units: "sentence" }, seeded: true },
  // The unit stage at ContextCite's call counts (equal-calls comparison): 4 probes × 7 / 15 steps plus the
  // unperturbed pass, the empty-prompt pass and the final restore check: ≤ 32 / 64 sequences. The check at
  // the last step still decides `converged`. Pinned to pooled z (the unit default when they were measured).
  "segfirst-u32": { cfg: { method: { type: "reagent", mode: "joint", max_steps: 7 }, units: { type: "paragraph", refine_top: 0 }, aggregation: "pooled" }, seeded: true },
  "segfirst-u64": { cfg: { method: { type: "reagent", mode: "joint", max_steps: 15 }, units: { type: "paragraph", refine_top: 0 }, aggregation: "pooled" }, seeded: true },
  // The same with `aggregation: surrogate` (the walk's draws read by a Lasso; no extra calls; the unit default since session 7).
  "segfirst-s32": { cfg: { method: { type: "reagent", mode: "joint", max_steps: 7 }, units: { type: "paragraph", refine_top: 0 }, aggregation: "surrogate" }, seeded: true },
  "segfirst-s64": { cfg: { method: { type: "reagent", mode: "joint", max_steps: 15 }, units: { type: "paragraph", refine_top: 0 }, aggregation: "surrogate" }, seeded: true },
  "segfirst-s": { cfg: { method: "reagent", mode: "joint", units: "paragraph", aggregation: "surrogate" }, seeded: true },
  // Refining the top two units: on the long items the top unit is the question, the second the document.
  "segfirst-s2": { cfg: { method: "reagent", mode: "joint", units: { type: "paragraph", refine_top: 2 }, aggregation: "surrogate" }, seeded: true },
  cc32: { cfg: { method: { type: "context_cite", ablations: 32 }, units: "paragraph" }, seeded: true },
  cc64: { cfg: { method: { type: "context_cite", ablations: 64 }, units: "paragraph" }, seeded: true },
  "loo-unit": { cfg: { method: "loo", units: "paragraph" }, seeded: false },
};
