/**
 * zod issues -> the project's ConfigError: paths written as `sinks[0].path`, what was expected,
 * and a "did you mean" for near-miss keys and union types. `parseConfig` is the helper every
 * config boundary uses, so a bad value reads the same wherever it is caught, and an old field
 * name is rewritten and remembered the same way everywhere (`deprecationsOf`).
 */
import type { z } from "zod";
import { rememberDeprecations, upgradeNames } from "./config-aliases.js";
import { ConfigError } from "./errors.js";
import { getAt, keysAt } from "./schema-walk.js";

export interface ConfigIssue {
  readonly path: string;
  readonly message: string;
  readonly expected?: string;
}

/** Renders a path as `a.b[0].c`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const p of path) {
    if (typeof p === "number") out += `[${p}]`;
    else out += out === "" ? String(p) : `.${String(p)}`;
  }
  return out;
}

function distance(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0] as number;
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j] as number;
      dp[j] = Math.min((dp[j] as number) + 1, (dp[j - 1] as number) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length] as number;
}

/** The option nearest to `word` by edit distance, when near enough to be a likely typo. */
export function closest(word: string, options: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const o of options) {
    const d = distance(word, o);
    if (d < bestD) {
      bestD = d;
      best = o;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

function describeValue(v: unknown): string {
  if (v === undefined) return "nothing";
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  if (typeof v === "string") return `"${v.length > 40 ? `${v.slice(0, 40)}…` : v}"`;
  return `${typeof v} ${typeof v === "number" || typeof v === "boolean" || typeof v === "bigint" ? String(v) : ""}`.trim();
}

type RawIssue = z.core.$ZodIssue;

/** zod issues as config issues with paths, expectations and suggestions. */
export function configIssues(root: z.ZodType, data: unknown, zodIssues: readonly RawIssue[], prefix: readonly PropertyKey[] = []): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const i of zodIssues) {
    const full = [...prefix, ...i.path];
    const path = formatPath(full);
    const got = i.path.reduce<unknown>((d, k) => getAt(d, k), data);
    switch (i.code) {
      case "unrecognized_keys": {
        const valid = keysAt(root, data, i.path);
        for (const k of i.keys) {
          const hint = closest(k, valid);
          out.push({
            path: formatPath([...full, k]),
            message: `unknown field "${k}"${hint ? ` (did you mean "${hint}"?)` : ""}`,
            expected: valid.length > 0 ? `one of the fields ${valid.join(", ")}` : "no such field",
          });
        }
        break;
      }
      case "invalid_union": {
        const disc = (i as { discriminator?: string }).discriminator;
        const options = (i as { options?: unknown[] }).options;
        if (disc !== undefined && options !== undefined) {
          const valid = options.map(String);
          const hint = typeof got === "string" ? closest(got, valid) : undefined;
          out.push({
            path,
            message: got === undefined ? `missing: expected one of ${valid.join(", ")}` : `unknown ${disc} ${describeValue(got)}${hint ? ` (did you mean "${hint}"?)` : ""}; expected one of ${valid.join(", ")}`,
            expected: `one of ${valid.join(", ")}`,
          });
        } else {
          out.push({ path, message: `${i.message}; got ${describeValue(got)}` });
        }
        break;
      }
      case "invalid_type":
        // A schema's own words for a missing field ("type vllm needs url") beat the generic ones.
        if (got === undefined && !i.message.startsWith("Invalid input")) out.push({ path, message: `missing: ${i.message}`, expected: i.expected });
        else out.push({ path, message: `expected ${i.expected}, got ${describeValue(got)}`, expected: i.expected });
        break;
      case "invalid_value":
        out.push({ path, message: `expected one of ${i.values.map((v) => JSON.stringify(v)).join(", ")}, got ${describeValue(got)}`, expected: i.values.map(String).join(" | ") });
        break;
      default:
        out.push({ path, message: i.message });
    }
  }
  return out;
}

/** Config issues as one ConfigError: the first path names the field, every issue is listed. */
export function configErrorFrom(what: string, issues: readonly ConfigIssue[]): ConfigError {
  const first = issues[0] ?? { path: "", message: "invalid" };
  const lines = issues.map((x) => `${x.path === "" ? "(top level)" : x.path}: ${x.message}`);
  return new ConfigError({
    what,
    why: lines.length === 1 ? (lines[0] as string) : `${lines.length} problems:\n  ${lines.join("\n  ")}`,
    path: first.path,
    ...(first.expected === undefined ? {} : { expected: first.expected }),
    details: { issues },
  });
}

export interface ParseConfigOptions {
  /** The action, for the message: "reading the otel settings". */
  readonly what: string;
  /** Where the value sits in the config (`otel`, `sinks[0]`, `--model`), prefixed to every path. */
  readonly path?: string | readonly PropertyKey[];
}

/**
 * The one way a config value becomes typed: validate `input` with `schema`, or throw a
 * ConfigError that names each bad field by its full path, with what was expected and a "did you
 * mean" for near-miss keys and types.
 */
export function parseConfig<S extends z.ZodType>(schema: S, input: unknown, opts: ParseConfigOptions): z.output<S> {
  const prefix = opts.path === undefined ? [] : typeof opts.path === "string" ? (opts.path === "" ? [] : [opts.path]) : opts.path;
  // Old names first (config-aliases.ts), so a renamed field neither fails nor goes unnoticed.
  const { data, deprecations } = upgradeNames(schema, input, formatPath(prefix));
  const r = schema.safeParse(data);
  if (!r.success) throw configErrorFrom(opts.what, configIssues(schema, data, r.error.issues, prefix));
  rememberDeprecations(r.data, deprecations);
  return r.data;
}

/** zod issues as "path: message" lines, for errors that are not ConfigErrors (a model's config.json, a record). */
export function describeIssues(issues: readonly RawIssue[], prefix: readonly PropertyKey[] = []): string {
  return issues.map((i) => `${formatPath([...prefix, ...i.path]) || "(top level)"}: ${i.message}`).join("; ");
}
