/**
 * File-system paths in configs. A schema marks a string field that names a file or directory
 * with `.meta(fsPath(kind))`; from those marks a loaded config resolves its relative paths
 * against the config file's directory (not the working directory), and `config check` lists
 * the inputs that do not exist. Outputs (sinks, checkpoints, caches) are created with their
 * directories when opened, so they are resolved but never reported missing.
 */
import { statSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { z } from "zod";
import { defOf, pickUnion, pipeSchema } from "./schema-walk.js";

/** `input-file`/`input-dir` must exist before a run; `output` is created when opened. */
export type FsPathKind = "input-file" | "input-dir" | "output";

const META_KEY = "x-fs-path";

/** Metadata for `.meta()`: this string (or list of strings) names a path of this kind. */
export function fsPath(kind: FsPathKind): Record<string, unknown> {
  return { [META_KEY]: kind };
}

export interface ConfigPath {
  /** Where in the config, e.g. `sinks[0].path`. */
  readonly at: string;
  readonly kind: FsPathKind;
  readonly value: string;
}

function kindOf(s: z.ZodType): FsPathKind | undefined {
  const k = z.globalRegistry.get(s)?.[META_KEY];
  return k === "input-file" || k === "input-dir" || k === "output" ? k : undefined;
}

function formatAt(path: readonly (string | number)[]): string {
  return path.reduce<string>((acc, k) => (typeof k === "number" ? `${acc}[${k}]` : acc === "" ? k : `${acc}.${k}`), "");
}

/** Calls `visit` for every marked path string in `data`; it returns the replacement value. */
function mapPaths(schema: z.ZodType, data: unknown, at: (string | number)[], visit: (p: ConfigPath) => string): unknown {
  let s: z.ZodType | undefined = schema;
  // Unwrap optional/default/pipe layers one by one: the mark may sit on any of them.
  for (;;) {
    if (s === undefined || data === undefined || data === null) return data;
    const kind = kindOf(s);
    if (kind !== undefined) {
      const one = (v: unknown, where: (string | number)[]): unknown => (typeof v === "string" ? visit({ at: formatAt(where), kind, value: v }) : v);
      return Array.isArray(data) ? data.map((v, i) => one(v, [...at, i])) : one(data, at);
    }
    const d = defOf(s);
    if ((d.type === "optional" || d.type === "default" || d.type === "prefault" || d.type === "nullable" || d.type === "readonly" || d.type === "catch") && d.innerType) s = d.innerType;
    else if (d.type === "pipe" && d.in) s = pipeSchema(d);
    else if (d.type === "union") {
      const picked = pickUnion(s, data);
      if (picked === s) return data;
      s = picked;
    } else break;
  }
  const d = defOf(s);
  if (d.type === "object" && typeof data === "object" && !Array.isArray(data)) {
    const shape = d.shape ?? {};
    return Object.fromEntries(Object.entries(data as Record<string, unknown>).map(([k, v]) => [k, shape[k] ? mapPaths(shape[k], v, [...at, k], visit) : v]));
  }
  if (d.type === "array" && d.element && Array.isArray(data)) return data.map((v, i) => mapPaths(d.element as z.ZodType, v, [...at, i], visit));
  if (d.type === "record" && d.valueType && typeof data === "object") {
    return Object.fromEntries(Object.entries(data as Record<string, unknown>).map(([k, v]) => [k, mapPaths(d.valueType as z.ZodType, v, [...at, k], visit)]));
  }
  return data;
}

/** Every marked path in a (validated) config. */
export function configPaths(schema: z.ZodType, data: unknown): ConfigPath[] {
  const out: ConfigPath[] = [];
  mapPaths(schema, data, [], (p) => {
    out.push(p);
    return p.value;
  });
  return out;
}

/** The config with its relative marked paths resolved against `baseDir`. */
export function resolveConfigPaths<T>(schema: z.ZodType, data: T, baseDir: string): T {
  // `:memory:` is DuckDB's throw-away store, not a file.
  return mapPaths(schema, data, [], (p) => (isAbsolute(p.value) || p.value === ":memory:" ? p.value : resolve(baseDir, p.value))) as T;
}

/** One line per input path that does not exist or is the wrong kind (a file where a directory is needed). */
export function missingInputs(schema: z.ZodType, data: unknown): string[] {
  const lines: string[] = [];
  for (const p of configPaths(schema, data)) {
    if (p.kind === "output") continue;
    const want = p.kind === "input-dir" ? "directory" : "file";
    let st;
    try {
      st = statSync(p.value);
    } catch {
      lines.push(`${p.at}: ${p.value} does not exist (expected an existing ${want})`);
      continue;
    }
    if (want === "directory" && !st.isDirectory()) lines.push(`${p.at}: ${p.value} is not a directory`);
    if (want === "file" && st.isDirectory()) lines.push(`${p.at}: ${p.value} is a directory, not a file`);
  }
  return lines;
}
