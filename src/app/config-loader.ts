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
import { configErrorFrom, formatPath, parseConfig, type ConfigIssue } from "../config-issues.js";
import { ConfigError, errorMessage } from "../errors.js";

export type Env = Readonly<Record<string, string | undefined>>;

const VAR = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}/g;

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
  return parseConfig(schema, substituted, { what });
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
