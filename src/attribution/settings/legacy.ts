/**
 * The flat engine settings of releases up to 0.1 (`num_probes`, `keep_top_n`, `loo_samples`, …)
 * keep working for one release: they are lifted into the section that owns them before the
 * sections are parsed, and `deprecatedEngineFields` names each one so the CLI and
 * `config check` can warn. A knob set both ways is an error (which one would win is a guess).
 */
import type { z } from "zod";

/** Old flat name -> where it lives now. */
export const ENGINE_DEPRECATED_FIELDS: Readonly<Record<string, string>> = {
  mode: "method.mode",
  num_probes: "method.num_probes",
  replacing_ratio: "method.replacing_ratio",
  max_steps: "method.max_steps",
  clamp_eps: "method.clamp_eps",
  loo_samples: "method.samples (method: {type: loo})",
  keep_top_n: "stopping.keep_top_n",
  stopping_top_k: "stopping.top_k",
  check_every: "stopping.check_every (stopping: {type: probe})",
  min_steps: "stopping.min_steps",
  patience: "stopping.patience",
  mlm_top_k: "sampler.top_k (sampler: {type: mlm})",
  self_top_k: "sampler.top_k (sampler: {type: self})",
};

export interface DeprecatedField {
  readonly field: string;
  readonly replacement: string;
}

/** The deprecated flat names a raw engine section uses, for warnings and `config check`. */
export function deprecatedEngineFields(raw: unknown): DeprecatedField[] {
  if (!isPlainObject(raw)) return [];
  return Object.keys(ENGINE_DEPRECATED_FIELDS)
    .filter((k) => raw[k] !== undefined)
    .map((field) => ({ field, replacement: ENGINE_DEPRECATED_FIELDS[field] as string }));
}

const METHOD_KEYS: Record<string, { method: string; key: string }> = {
  mode: { method: "reagent", key: "mode" },
  num_probes: { method: "reagent", key: "num_probes" },
  replacing_ratio: { method: "reagent", key: "replacing_ratio" },
  max_steps: { method: "reagent", key: "max_steps" },
  clamp_eps: { method: "reagent", key: "clamp_eps" },
  loo_samples: { method: "loo", key: "samples" },
};
const STOPPING_KEYS: Record<string, string> = {
  keep_top_n: "keep_top_n",
  stopping_top_k: "top_k",
  check_every: "check_every",
  min_steps: "min_steps",
  patience: "patience",
};
const SAMPLER_KEYS: Record<string, { sampler: string }> = { mlm_top_k: { sampler: "mlm" }, self_top_k: { sampler: "self" } };

/**
 * Moves deprecated flat keys into their sections. Keys that the chosen strategy does not read
 * (e.g. `loo_samples` with method reagent) are dropped, as the flat schema ignored them.
 */
export function liftLegacyEngineFields(raw: unknown, ctx: z.core.$RefinementCtx): unknown {
  if (!isPlainObject(raw) || deprecatedEngineFields(raw).length === 0) return raw;
  const out: Record<string, unknown> = { ...raw };
  const section = (name: string, fallback: string): Record<string, unknown> => {
    const v = out[name] ?? fallback;
    return typeof v === "string" ? { type: v } : isPlainObject(v) ? { ...v } : { type: v };
  };
  const put = (target: Record<string, unknown>, key: string, value: unknown, legacy: string, sectionName: string): void => {
    if (target[key] !== undefined && target[key] !== value) {
      ctx.addIssue({ code: "custom", path: [legacy], message: `set both as ${legacy} (deprecated) and as ${sectionName}.${key}; keep only ${sectionName}.${key}`, input: raw });
      return;
    }
    target[key] = value;
  };

  const method = section("method", "reagent");
  let touched = false;
  for (const [legacy, to] of Object.entries(METHOD_KEYS)) {
    if (out[legacy] === undefined) continue;
    if (method.type === to.method) put(method, to.key, out[legacy], legacy, "method");
    delete out[legacy];
    touched = true;
  }
  if (touched) out.method = method;

  const stoppingKeys = Object.keys(STOPPING_KEYS).filter((k) => out[k] !== undefined);
  if (stoppingKeys.length > 0) {
    const joint = method.type === "reagent" && (method.mode ?? "joint") === "joint";
    const stopping = section("stopping", joint ? "ensemble" : "probe");
    for (const legacy of stoppingKeys) {
      const key = STOPPING_KEYS[legacy] as string;
      // The flat schema accepted check_every with every rule; only the per-probe rule reads it.
      if (key === "check_every" && stopping.type !== "probe") {
        delete out[legacy];
        continue;
      }
      put(stopping, key, out[legacy], legacy, "stopping");
      delete out[legacy];
    }
    // The flat default for patience was twice min_steps in joint mode.
    if (joint && out.patience === undefined && raw.patience === undefined && stopping.min_steps !== undefined && stopping.patience === undefined && stopping.type !== "restore") {
      stopping.patience = 2 * (stopping.min_steps as number);
    }
    out.stopping = stopping;
  }

  for (const [legacy, to] of Object.entries(SAMPLER_KEYS)) {
    if (out[legacy] === undefined) continue;
    const sampler = section("sampler", "pos");
    if (sampler.type === to.sampler) {
      put(sampler, "top_k", out[legacy], legacy, "sampler");
      out.sampler = sampler;
    }
    delete out[legacy];
  }
  return out;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
