/**
 * Loading a YAML config: `${ENV}` substitution, zod validation, and errors that name the field
 * (`sinks[0].path`) and what was expected. Shared by `run`, `config check`, the demo and tests.
 *
 * Substitution happens in string values after YAML parsing (so a value cannot inject YAML):
 * `${NAME}` (an error when unset), `${NAME:-default}` (default when unset or empty),
 * `${NAME-default}` (default when unset); `$${` is a literal `${`. A value that is exactly one
 * `${…}` takes the type the substituted text has in YAML (`${PORT:-9092}` is a number).
 *
 * @see docs/config.md
 */
import { readFileSync } from "node:fs";
import { parse as parseYaml, YAMLParseError } from "yaml";
import type { z } from "zod";
import { ConfigError, errorMessage } from "../errors.js";

export type Env = Readonly<Record<string, string | undefined>>;

export interface ConfigIssue {
  readonly path: string;
  readonly message: string;
  readonly expected?: string;
}

const VAR = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}/g;

/** Renders a path as `a.b[0].c`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const p of path) {
    if (typeof p === "number") out += `[${p}]`;
    else out += out === "" ? String(p) : `.${String(p)}`;
  }
  return out;
}

function substituteString(s: string, env: Env, path: readonly PropertyKey[], issues: ConfigIssue[]): unknown {
  if (!s.includes("${")) return s;
  let whole = false;
  const m = /^\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}$/.exec(s);
  if (m) whole = true;
  const out = s.replace(VAR, (match, name: string | undefined, op: string | undefined, def: string | undefined) => {
    if (match === "$${") return "${";
    const v = env[name as string];
    if (op === ":-") return v === undefined || v === "" ? (def ?? "") : v;
    if (op === "-") return v === undefined ? (def ?? "") : v;
    if (v === undefined) {
      issues.push({ path: formatPath(path), message: `environment variable ${name as string} is not set (write \${${name as string}:-default} to give a default)`, expected: `${name as string} set` });
      return "";
    }
    return v;
  });
  if (whole) {
    // A value that is one variable takes its YAML type: numbers, booleans, null.
    try {
      const typed: unknown = parseYaml(out);
      if (typeof typed === "number" || typeof typed === "boolean" || typed === null) return out === "" ? "" : typed;
    } catch {
      return out;
    }
  }
  return out;
}

/** Substitutes `${ENV}` in every string of a parsed document. */
export function substituteEnv(doc: unknown, env: Env, issues: ConfigIssue[] = [], path: PropertyKey[] = []): unknown {
  if (typeof doc === "string") return substituteString(doc, env, path, issues);
  if (Array.isArray(doc)) return doc.map((v, i) => substituteEnv(v, env, issues, [...path, i]));
  if (doc !== null && typeof doc === "object") {
    return Object.fromEntries(Object.entries(doc as Record<string, unknown>).map(([k, v]) => [k, substituteEnv(v, env, issues, [...path, k])]));
  }
  return doc;
}

// ---------------------------------------------------------------------------------------------
// Reading zod schemas to say what was expected

interface Def {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  element?: z.ZodType;
  options?: z.ZodType[];
  valueType?: z.ZodType;
  in?: z.ZodType;
  values?: unknown[];
  discriminator?: string;
  entries?: Record<string, unknown>;
}

function defOf(s: z.ZodType): Def {
  return (s as unknown as { _zod: { def: Def } })._zod.def;
}

function unwrap(s: z.ZodType): z.ZodType {
  let cur = s;
  for (;;) {
    const d = defOf(cur);
    if ((d.type === "optional" || d.type === "default" || d.type === "prefault" || d.type === "nullable" || d.type === "readonly" || d.type === "catch") && d.innerType) cur = d.innerType;
    else if (d.type === "pipe" && d.in) cur = d.in;
    else return cur;
  }
}

function getAt(data: unknown, key: PropertyKey): unknown {
  if (data !== null && typeof data === "object") return (data as Record<PropertyKey, unknown>)[key];
  return undefined;
}

/** The schema at `path` (following the data through unions); undefined when it cannot tell. */
export function schemaAt(root: z.ZodType, data: unknown, path: readonly PropertyKey[]): z.ZodType | undefined {
  let s: z.ZodType | undefined = root;
  let d: unknown = data;
  for (const key of path) {
    if (!s) return undefined;
    s = pickUnion(unwrap(s), d);
    if (!s) return undefined;
    const def = defOf(s);
    if (def.type === "object") s = def.shape?.[String(key)];
    else if (def.type === "array") s = def.element;
    else if (def.type === "record") s = def.valueType;
    else return undefined;
    d = getAt(d, key);
  }
  return s ? pickUnion(unwrap(s), d) : undefined;
}

function pickUnion(s: z.ZodType, data: unknown): z.ZodType | undefined {
  const def = defOf(s);
  if (def.type !== "union" || !def.options) return s;
  if (def.discriminator !== undefined) {
    const want = getAt(data, def.discriminator);
    return def.options.find((o) => discriminatorValues(o, def.discriminator as string).includes(want));
  }
  const objects = def.options.map(unwrap).filter((o) => defOf(o).type === "object");
  return objects.length === 1 ? objects[0] : s;
}

function discriminatorValues(s: z.ZodType, key: string): unknown[] {
  const def = defOf(unwrap(s));
  const field = def.shape?.[key];
  if (!field) return [];
  const fd = defOf(unwrap(field));
  if (fd.type === "literal") return fd.values ?? [];
  if (fd.type === "enum") return Object.values(fd.entries ?? {});
  return [];
}

/** Valid keys of the object schema at `path`. */
function keysAt(root: z.ZodType, data: unknown, path: readonly PropertyKey[]): string[] {
  const s = schemaAt(root, data, path);
  if (!s) return [];
  const def = defOf(s);
  return def.type === "object" ? Object.keys(def.shape ?? {}) : [];
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

function closest(word: string, options: readonly string[]): string | undefined {
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
        out.push({ path, message: `expected ${i.expected}, got ${describeValue(got)}`, expected: i.expected });
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

export interface LoadConfigOptions {
  readonly env?: Env;
  /** Name used in messages (the file path). */
  readonly name?: string;
}

/** Parses YAML text, substitutes ${ENV}, validates with `schema`; throws ConfigError. */
export function parseConfigText<S extends z.ZodType>(text: string, schema: S, opts: LoadConfigOptions = {}): z.output<S> {
  const what = `reading config ${opts.name ?? "(text)"}`;
  let doc: unknown;
  try {
    doc = parseYaml(text, { prettyErrors: true });
  } catch (err) {
    if (err instanceof YAMLParseError) {
      const pos = err.linePos?.[0];
      throw new ConfigError({ what, why: `it is not valid YAML${pos ? ` (line ${pos.line}, column ${pos.col})` : ""}: ${err.message.split("\n")[0] ?? ""}`, path: "", cause: err });
    }
    throw new ConfigError({ what, why: errorMessage(err), path: "", cause: err });
  }
  if (doc === null || doc === undefined) doc = {};
  const envIssues: ConfigIssue[] = [];
  const substituted = substituteEnv(doc, opts.env ?? process.env, envIssues);
  if (envIssues.length > 0) throw configErrorFrom(what, envIssues);
  const r = schema.safeParse(substituted);
  if (!r.success) throw configErrorFrom(what, configIssues(schema, substituted, r.error.issues));
  return r.data;
}

export function loadConfigFile<S extends z.ZodType>(file: string, schema: S, opts: Omit<LoadConfigOptions, "name"> = {}): z.output<S> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError({ what: `reading config ${file}`, why: errorMessage(err), path: "", cause: err });
  }
  return parseConfigText(text, schema, { ...opts, name: file });
}
