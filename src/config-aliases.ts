/**
 * Old config names keep working for one release, with a warning. A schema declares its renamed
 * fields next to its own definition (`renamedFields(schema, [{ from: "kind", to: "type" }])`);
 * `parseConfig` rewrites them to the current names before validation, wherever the schema sits
 * in the config, and remembers what it rewrote, so `config check` and the worker's start-up log
 * can say which names to change. A renamed union discriminator (`kind` -> `type`) works too: the
 * rewrite happens on the union before an option is picked.
 */
import type { z } from "zod";
import { ConfigError } from "./errors.js";
import { defOf, pickUnion, pipeSchema, unwrap } from "./schema-walk.js";

export interface RenamedField {
  /** The old field name. */
  readonly from: string;
  /** The current name; dotted when the field moved into a nested object (`sampler.top_k`). */
  readonly to: string;
  /** Rewrites an old-style value on the way (a flat value into its new object form). */
  readonly map?: (value: unknown, holder: Readonly<Record<string, unknown>>) => unknown;
  /** Only values this accepts count as old (for a field whose name stays but whose form changed). */
  readonly when?: (value: unknown) => boolean;
  /** What to write instead, when "use <to>" does not say it (`write sampler: { type: mlm }`). */
  readonly hint?: string;
}

/** One old name found in a config: where it was and what to write now. */
export interface Deprecation {
  readonly path: string;
  readonly use: string;
  readonly message: string;
}

// Keyed by the schema's definition, which `.describe()` and `.meta()` clones share.
const renamed = new WeakMap<object, readonly RenamedField[]>();
const detectors = new WeakMap<object, DeprecationDetector>();
const found = new WeakMap<object, readonly Deprecation[]>();

/** Declares old names of `schema`'s fields (an object or a discriminated union); returns the schema. */
export function renamedFields<S extends z.ZodType>(schema: S, fields: readonly RenamedField[]): S {
  const def = defOf(schema);
  renamed.set(def, [...(renamed.get(def) ?? []), ...fields]);
  return schema;
}

/** Finds old names in a raw value, for a schema that rewrites them itself (a z.preprocess). */
export type DeprecationDetector = (raw: unknown) => readonly { readonly from: string; readonly to: string }[];

/**
 * For a schema that upgrades old names on its own (the engine section lifts its flat 0.1 names
 * in a z.preprocess): `detect` reports them, so they reach `deprecationsOf` like renamed fields.
 */
export function deprecatedBy<S extends z.ZodType>(schema: S, detect: DeprecationDetector): S {
  detectors.set(defOf(schema), detect);
  return schema;
}

/** The old names declared on this schema or any wrapper of it (for docs). */
export function renamedFieldsOf(schema: z.ZodType): readonly RenamedField[] {
  return chain(schema).flatMap((s) => renamed.get(defOf(s)) ?? []);
}

/** The deprecated names `parseConfig` rewrote to produce `value` (empty when none or unknown). */
export function deprecationsOf(value: unknown): readonly Deprecation[] {
  return value !== null && typeof value === "object" ? (found.get(value) ?? []) : [];
}

/** Records `list` against a parsed value, for `deprecationsOf`. */
export function rememberDeprecations(value: unknown, list: readonly Deprecation[]): void {
  if (list.length > 0 && value !== null && typeof value === "object") found.set(value, [...deprecationsOf(value), ...list]);
}

/** Rewrites old names in `data` (never mutated) to the current ones; `prefix` names where `data` sits. */
export function upgradeNames(schema: z.ZodType, data: unknown, prefix = ""): { data: unknown; deprecations: Deprecation[] } {
  const deprecations: Deprecation[] = [];
  return { data: walk(schema, data, prefix, deprecations), deprecations };
}

function chain(s: z.ZodType): z.ZodType[] {
  const out = [s];
  for (let cur = s; ; ) {
    const d = defOf(cur);
    const next = d.innerType ?? (d.type === "pipe" && d.in !== undefined ? pipeSchema(d) : undefined);
    if (next === undefined || next === cur) return out;
    out.push(next);
    cur = next;
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function join(prefix: string, key: string | number): string {
  return typeof key === "number" ? `${prefix}[${key}]` : prefix === "" ? key : `${prefix}.${key}`;
}

function walk(schema: z.ZodType, data: unknown, path: string, out: Deprecation[]): unknown {
  let value = data;
  for (const s of chain(schema)) {
    const fields = renamed.get(defOf(s));
    if (fields && isPlainObject(value)) value = rename(value, fields, path, out);
    const detect = detectors.get(defOf(s));
    if (detect) {
      for (const d of detect(value)) {
        out.push({ path: join(path, d.from), use: join(path, d.to), message: `${join(path, d.from)} is deprecated: use ${join(path, d.to)} (the old form still works in this release)` });
      }
    }
  }
  const core = unwrap(schema);
  const picked = pickUnion(core, value);
  if (picked !== undefined && picked !== core) return walk(picked, value, path, out);
  const def = defOf(core);
  if (def.type === "object" && isPlainObject(value)) {
    const shape = def.shape ?? {};
    let copy: Record<string, unknown> | undefined;
    for (const [k, v] of Object.entries(value)) {
      const field = shape[k];
      if (field === undefined) continue;
      const next = walk(field, v, join(path, k), out);
      if (next !== v) (copy ??= { ...value })[k] = next;
    }
    return copy ?? value;
  }
  if (def.type === "array" && Array.isArray(value) && def.element) {
    const element = def.element;
    const next = value.map((v, i) => walk(element, v, join(path, i), out));
    return next.some((v, i) => v !== value[i]) ? next : value;
  }
  if (def.type === "record" && isPlainObject(value) && def.valueType) {
    const valueType = def.valueType;
    const next = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(valueType, v, join(path, k), out)]));
    return Object.entries(next).some(([k, v]) => v !== value[k]) ? next : value;
  }
  return value;
}

function rename(obj: Record<string, unknown>, fields: readonly RenamedField[], path: string, out: Deprecation[]): Record<string, unknown> {
  let copy: Record<string, unknown> | undefined;
  // A value that changed form in place (from === to) is reshaped before fields move into it.
  const ordered = [...fields.filter((f) => f.from === f.to), ...fields.filter((f) => f.from !== f.to)];
  for (const f of ordered) {
    const cur = copy ?? obj;
    if (!(f.from in cur)) continue;
    const old = cur[f.from];
    if (f.when !== undefined && !f.when(old)) continue;
    const next = f.map === undefined ? old : f.map(old, cur);
    copy = { ...cur };
    if (f.from !== f.to) delete copy[f.from];
    const keys = f.to.split(".");
    let holder = copy;
    for (const k of keys.slice(0, -1)) {
      const inner = holder[k];
      if (inner !== undefined && !isPlainObject(inner)) {
        throw new ConfigError({ what: "reading the config", why: `${join(path, f.from)} moved to ${join(path, f.to)}, but ${join(path, k)} is not a mapping`, path: join(path, k) });
      }
      holder = holder[k] = { ...(inner ?? {}) };
    }
    const last = keys[keys.length - 1] as string;
    if (f.from !== f.to && holder[last] !== undefined) {
      throw new ConfigError({
        what: "reading the config",
        why: `${join(path, f.from)} is the old name of ${join(path, f.to)}; give only ${join(path, f.to)}`,
        path: join(path, f.from),
      });
    }
    holder[last] = next;
    const use = join(path, f.to);
    out.push({
      path: join(path, f.from),
      use,
      message: `${join(path, f.from)} is deprecated: ${f.hint ?? `use ${use}`} (the old form still works in this release)`,
    });
  }
  return copy ?? obj;
}
