/**
 * The record sampler: a pure, deterministic decision per record (rules, then per-tenant,
 * per-model and default rates, by a hash of the sampling key). Budgets act later, in the
 * attribution queue (budget.ts), and can only turn "sampled" into "skipped (budget)".
 *
 * @see docs/pipeline.md#sampling
 */
import { createHash } from "node:crypto";
import type { LlmLogRecord } from "../../../schemas/llm-log-record.js";
import { parseConfig } from "../../config-issues.js";
import { samplingConfigSchema, type Predicate, type SamplingConfig, type SamplingConfigInput } from "./config.js";

export interface SampleVerdict {
  readonly sampled: boolean;
  /** rate, rate:model, rate:tenant, rule:<name> (and budget, decided later by the queue). */
  readonly reason: string;
  /** Queue priority when sampled (higher first). */
  readonly priority: number;
}

/** Uniform [0, 1) from a sha256 of salt and key: the same key always gives the same number. */
export function sampleUnit(key: string, seed = ""): number {
  const h = createHash("sha256").update(seed).update("\u0000").update(key).digest();
  // 52 bits: exact in a double.
  const hi = h.readUInt32BE(0) >>> 0;
  const lo = h.readUInt32BE(4) >>> 12;
  return (hi * 2 ** 20 + lo) / 2 ** 52;
}

function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.split("*").map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`);
}

/** Text length of a prompt (all message contents). */
export function promptChars(r: LlmLogRecord): number {
  return typeof r.prompt === "string" ? r.prompt.length : r.prompt.reduce((s, m) => s + m.content.length, 0);
}

type Compiled = (r: LlmLogRecord) => boolean;

function compilePredicate(p: Predicate): Compiled {
  const checks: Compiled[] = [];
  if (p.tags_any) {
    const want = p.tags_any;
    checks.push((r) => r.tags.some((t) => want.includes(t)));
  }
  if (p.tags_all) {
    const want = p.tags_all;
    checks.push((r) => want.every((t) => r.tags.includes(t)));
  }
  if (p.models) {
    const res = p.models.map(globToRegExp);
    checks.push((r) => r.model !== null && res.some((re) => re.test(r.model as string)));
  }
  if (p.providers) {
    const want = p.providers;
    checks.push((r) => r.provider !== null && want.includes(r.provider));
  }
  if (p.tenants) {
    const want = p.tenants;
    checks.push((r) => r.tenant_id !== null && want.includes(r.tenant_id));
  }
  for (const [key, pred] of Object.entries(p.metadata ?? {})) {
    if (pred === null || typeof pred !== "object") {
      checks.push((r) => Object.prototype.hasOwnProperty.call(r.metadata, key) && r.metadata[key] === pred);
    } else if (Array.isArray(pred)) {
      checks.push((r) => Object.prototype.hasOwnProperty.call(r.metadata, key) && pred.includes(r.metadata[key] ?? null));
    } else {
      const re = pred.matches === undefined ? undefined : new RegExp(pred.matches);
      const not = pred.not === undefined ? undefined : Array.isArray(pred.not) ? pred.not : [pred.not];
      checks.push((r) => {
        const has = Object.prototype.hasOwnProperty.call(r.metadata, key);
        const v = r.metadata[key];
        if (pred.exists !== undefined && has !== pred.exists) return false;
        if (not !== undefined && has && not.includes(v ?? null)) return false;
        const numeric = pred.gt !== undefined || pred.gte !== undefined || pred.lt !== undefined || pred.lte !== undefined;
        if (numeric) {
          const n = typeof v === "number" ? v : typeof v === "string" && v.trim() !== "" ? Number(v) : NaN;
          if (!Number.isFinite(n)) return false;
          if (pred.gt !== undefined && !(n > pred.gt)) return false;
          if (pred.gte !== undefined && !(n >= pred.gte)) return false;
          if (pred.lt !== undefined && !(n < pred.lt)) return false;
          if (pred.lte !== undefined && !(n <= pred.lte)) return false;
        }
        if (re !== undefined && !(typeof v === "string" && re.test(v))) return false;
        return true;
      });
    }
  }
  if (p.prompt_chars) {
    const { min, max } = p.prompt_chars;
    checks.push((r) => {
      const n = promptChars(r);
      return (min === undefined || n >= min) && (max === undefined || n <= max);
    });
  }
  if (p.completion_chars) {
    const { min, max } = p.completion_chars;
    checks.push((r) => {
      const n = r.completion.text.length;
      return (min === undefined || n >= min) && (max === undefined || n <= max);
    });
  }
  if (p.completion_logprob) {
    const { min_below, mean_below } = p.completion_logprob;
    checks.push((r) => {
      const lps = r.completion.logprobs;
      if (!lps || lps.length === 0) return false;
      let min = Infinity;
      let sum = 0;
      for (const x of lps) {
        if (x < min) min = x;
        sum += x;
      }
      const low = (min_below !== undefined && min < min_below) || (mean_below !== undefined && sum / lps.length < mean_below);
      return low;
    });
  }
  return (r) => checks.every((c) => c(r));
}

export class RecordSampler {
  readonly config: SamplingConfig;
  private readonly rules: { name: string; action: "always" | "never" | "rate"; rate: number; priority: number; test: Compiled }[];
  private readonly perModel: { re: RegExp; rate: number }[];

  constructor(config: SamplingConfigInput = {}) {
    this.config = parseConfig(samplingConfigSchema, config, { what: "reading the sampling settings", path: "sampling" });
    this.rules = this.config.rules.map((r) => ({
      name: r.name,
      action: r.action,
      rate: r.rate ?? 0,
      priority: r.priority ?? (r.action === "always" ? 10 : 0),
      test: compilePredicate(r.when),
    }));
    this.perModel = Object.entries(this.config.per_model).map(([glob, rate]) => ({ re: globToRegExp(glob), rate }));
  }

  /** The key hashed for `r` (falls back to the record id). */
  keyOf(r: LlmLogRecord): string {
    const k = this.config.key;
    const v = k === "id" ? r.id : r[k];
    return v ?? r.id;
  }

  /** Whether the hash of `r`'s key falls under `rate`. */
  hashSampled(r: LlmLogRecord, rate: number): boolean {
    if (rate >= 1) return true;
    if (rate <= 0) return false;
    return sampleUnit(this.keyOf(r), this.config.seed) < rate;
  }

  decide(r: LlmLogRecord): SampleVerdict {
    for (const rule of this.rules) {
      if (!rule.test(r)) continue;
      const reason = `rule:${rule.name}`;
      if (rule.action === "always") return { sampled: true, reason, priority: rule.priority };
      if (rule.action === "never") return { sampled: false, reason, priority: rule.priority };
      return { sampled: this.hashSampled(r, rule.rate), reason, priority: rule.priority };
    }
    if (r.tenant_id !== null) {
      const t = this.config.per_tenant[r.tenant_id];
      if (t !== undefined) return { sampled: this.hashSampled(r, t), reason: "rate:tenant", priority: 0 };
    }
    if (r.model !== null) {
      for (const m of this.perModel) {
        if (m.re.test(r.model)) return { sampled: this.hashSampled(r, m.rate), reason: "rate:model", priority: 0 };
      }
    }
    return { sampled: this.hashSampled(r, this.config.rate), reason: "rate", priority: 0 };
  }
}
