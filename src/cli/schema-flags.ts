/**
 * Command-line flags generated from zod schemas: the name, the help text (the field's own
 * description), the default and the choices all come from the schema, so a setting added to a
 * schema needs no second description here and a default cannot drift from the one that applies.
 */
import { Option } from "commander";
import { z } from "zod";
import { ConfigError } from "../errors.js";

type Json = Record<string, unknown>;

/** What a flag needs to know about one schema field. */
export interface FieldInfo {
  readonly description: string;
  readonly default?: unknown;
  readonly choices?: readonly string[];
  readonly kind: "string" | "number" | "integer" | "boolean" | "other";
  readonly minimum?: number;
}

export function fieldInfo(field: z.ZodType): FieldInfo {
  const js = z.toJSONSchema(field, { io: "input", unrepresentable: "any" }) as Json;
  const alts = (js.anyOf ?? js.oneOf) as Json[] | undefined;
  const core = Array.isArray(alts) ? (alts.find((a) => a.type !== "null") ?? js) : js;
  const type = core.type;
  const kind = type === "string" || type === "number" || type === "integer" || type === "boolean" ? type : "other";
  return {
    description: typeof js.description === "string" ? js.description : typeof core.description === "string" ? core.description : "",
    ...("default" in js ? { default: js.default } : {}),
    ...(Array.isArray(core.enum) ? { choices: core.enum.map(String) } : {}),
    kind,
    ...(typeof core.minimum === "number" ? { minimum: core.minimum } : {}),
  };
}

/** `password_env` -> `--password-env`. */
export function flagName(field: string): string {
  return `--${field.replaceAll("_", "-")}`;
}

/** The attribute commander stores `--password-env` under: `passwordEnv`. */
export function flagAttr(flag: string): string {
  return flag.replace(/^--/, "").replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** Help text: the description, then `(default …)` when the schema has one. */
export function helpText(info: FieldInfo, extra?: { readonly scope?: string; readonly defaultNote?: string }): string {
  const dflt = extra?.defaultNote ?? (info.default === undefined || info.default === "" || info.default === false ? undefined : `default ${typeof info.default === "string" ? info.default : JSON.stringify(info.default)}`);
  const scope = extra?.scope === undefined ? "" : `${extra.scope}: `;
  return `${scope}${info.description}${dflt === undefined ? "" : ` (${dflt})`}`;
}

/** A commander option for a field; values stay strings (zod validates them), numbers are converted. */
export function optionFor(flag: string, info: FieldInfo, help: string, placeholder = flag.replace(/^--/, "")): Option {
  if (info.kind === "boolean") return new Option(flag, help);
  const opt = new Option(`${flag} <${placeholder}>`, help);
  if (info.choices !== undefined) opt.choices(info.choices);
  if (info.kind === "number" || info.kind === "integer") opt.argParser((v) => (v.trim() !== "" && Number.isFinite(Number(v)) ? Number(v) : v));
  return opt;
}

// ---------------------------------------------------------------------------------------------
// Whole settings schemas as flags

/** A union section selected by `type` (engine.method, engine.sampler; the scorer itself). */
export interface FlagSection {
  readonly path: readonly string[];
  /** `--method`; undefined for the root union, whose type comes from elsewhere (the --model spec). */
  readonly flag?: string;
  readonly types: readonly string[];
  /** The type the schema picks when the section is not given. */
  readonly defaultType?: string;
}

/** One leaf setting as a flag. */
export interface SettingFlag {
  readonly path: readonly string[];
  readonly flag: string;
  readonly info: FieldInfo;
  /** The union section that owns it and the types that take it (undefined: outside any union). */
  readonly section?: FlagSection;
  readonly types?: readonly string[];
  /** The types that take it give it different defaults (the description says which). */
  readonly mixedDefaults?: boolean;
}

export interface FlagTable {
  readonly sections: readonly FlagSection[];
  readonly flags: readonly SettingFlag[];
}

export interface FlagTableOptions {
  /** Dotted paths left out (deprecated names, settings other flags give). */
  readonly exclude?: readonly string[];
  /** Dotted path -> flag, to keep an established name (`intra_op_threads` -> `--threads`). */
  readonly rename?: Readonly<Record<string, string>>;
  /** Flags the command defines itself; a generated flag of the same name gets its section prefix. */
  readonly reserved?: readonly string[];
}

function unwrapAll(s: z.ZodType): z.ZodType {
  for (let cur = s; ; ) {
    const d = (cur as unknown as { _zod: { def: { type: string; innerType?: z.ZodType; in?: z.ZodType; out?: z.ZodType } } })._zod.def;
    if (d.innerType !== undefined) cur = d.innerType;
    else if (d.type === "pipe" && d.in !== undefined && d.out !== undefined) {
      const inType = (d.in as unknown as { _zod: { def: { type: string } } })._zod.def.type;
      cur = inType === "transform" ? d.out : d.in;
    } else return cur;
  }
}

function typeUnionOptions(s: z.ZodType): { type: string; shape: Record<string, z.ZodType> }[] | undefined {
  const d = (s as unknown as { _zod: { def: { type: string; options?: z.ZodType[] } } })._zod.def;
  if (d.type !== "union" || d.options === undefined) return undefined;
  const out: { type: string; shape: Record<string, z.ZodType> }[] = [];
  for (const o of d.options) {
    const shape = (unwrapAll(o) as unknown as { shape?: Record<string, z.ZodType> }).shape;
    const t = shape?.type === undefined ? undefined : (z.toJSONSchema(shape.type, { io: "input" }) as Json).const;
    if (shape === undefined || typeof t !== "string") return undefined;
    out.push({ type: t, shape });
  }
  return out;
}

/**
 * Every setting of `schema` as a flag: plain fields by their own name (`num_probes` ->
 * `--num-probes`), fields of nested objects with the object's name (`retry.max_attempts` ->
 * `--retry-max-attempts`), union sections as `--<section> <type>` plus their options' fields;
 * a name two settings would share gets its section's name in front (`--stopping-top-k`).
 */
export function flagTable(schema: z.ZodType, opts: FlagTableOptions = {}): FlagTable {
  const exclude = new Set(opts.exclude ?? []);
  const sections: FlagSection[] = [];
  const leaves = new Map<string, { path: string[]; info: FieldInfo; nested: boolean; section?: FlagSection; types: Set<string>; mixed: boolean }>();

  const walk = (s: z.ZodType, path: string[], section: FlagSection | undefined, type: string | undefined, nested: boolean): void => {
    const core = unwrapAll(s);
    const options = typeUnionOptions(core);
    if (options !== undefined) {
      const dflt = fieldInfo(s).default;
      const sec: FlagSection = {
        path,
        ...(path.length > 0 ? { flag: flagName(path[path.length - 1] as string) } : {}),
        types: options.map((o) => o.type),
        ...(typeof dflt === "string" ? { defaultType: dflt } : isType(dflt) ? { defaultType: dflt.type } : {}),
      };
      sections.push(sec);
      for (const o of options) for (const [k, f] of Object.entries(o.shape)) if (k !== "type") walk(f, [...path, k], sec, o.type, false);
      return;
    }
    const shape = (core as unknown as { shape?: Record<string, z.ZodType> }).shape;
    const isObject = (core as unknown as { _zod: { def: { type: string } } })._zod.def.type === "object";
    if (isObject && shape !== undefined) {
      for (const [k, f] of Object.entries(shape)) if (!exclude.has([...path, k].join("."))) walk(f, [...path, k], section, type, path.length > 0 && section?.path.join(".") !== path.join("."));
      return;
    }
    if (exclude.has(path.join("."))) return;
    const info = fieldInfo(s);
    if (info.kind === "other" && info.choices === undefined) return;
    const key = path.join(".");
    const prev = leaves.get(key);
    if (prev !== undefined) {
      if (type !== undefined) prev.types.add(type);
      if (JSON.stringify(prev.info.default) !== JSON.stringify(info.default)) prev.mixed = true;
      return;
    }
    leaves.set(key, { path, info, nested, ...(section ? { section } : {}), types: new Set(type === undefined ? [] : [type]), mixed: false });
  };
  walk(schema, [], undefined, undefined, false);

  // Names: a field's own name, its object's name in front when nested, its section's when shared.
  const base = (l: { path: string[]; nested: boolean }): string => flagName((l.nested ? l.path.slice(-2) : l.path.slice(-1)).join("_"));
  const taken = new Map<string, number>();
  for (const n of [...(opts.reserved ?? []), ...sections.flatMap((s) => (s.flag ? [s.flag] : []))]) taken.set(n, 2);
  for (const l of leaves.values()) taken.set(base(l), (taken.get(base(l)) ?? 0) + 1);
  const flags: SettingFlag[] = [...leaves.values()].map((l) => {
    const key = l.path.join(".");
    const plain = base(l);
    const flag = opts.rename?.[key] ?? ((taken.get(plain) ?? 0) > 1 && l.path.length > 1 ? flagName(l.path.slice(-2).join("_")) : plain);
    return { path: l.path, flag, info: l.info, ...(l.section ? { section: l.section } : {}), ...(l.types.size > 0 ? { types: [...l.types] } : {}), ...(l.mixed ? { mixedDefaults: true } : {}) };
  });
  return { sections, flags };
}

function isType(v: unknown): v is { type: string } {
  return typeof v === "object" && v !== null && typeof (v as { type?: unknown }).type === "string";
}

function scopeOf(f: SettingFlag, label?: (types: readonly string[]) => string | undefined): string | undefined {
  if (f.section === undefined || f.types === undefined || f.types.length === f.section.types.length) return undefined;
  // Descriptions that already open with their type ("reagent: B, …") say it themselves.
  if (f.types.some((t) => f.info.description.startsWith(`${t}:`) || f.info.description.startsWith(`${t},`))) return undefined;
  return label?.(f.types) ?? `${f.section.path.length > 0 ? `${f.section.path.join(".")} ` : ""}${f.types.join(", ")}`;
}

/**
 * The commander options of a table: section flags with their types as choices, then each
 * setting, its help the schema's description with the scope (`method reagent: …`) and default.
 * `scopeLabel` may name a group of types (`endpoints`).
 */
export function tableOptions(table: FlagTable, scopeLabel?: (types: readonly string[]) => string | undefined): Option[] {
  const out: Option[] = [];
  for (const s of table.sections) {
    if (s.flag === undefined) continue;
    const o = new Option(`${s.flag} <type>`, `${s.path.join(".")}: ${s.types.join(" | ")}${s.defaultType === undefined ? "" : ` (default ${s.defaultType})`}`).choices(s.types);
    out.push(o);
  }
  for (const f of table.flags) {
    const scope = scopeOf(f, scopeLabel);
    const info = f.mixedDefaults ? { ...f.info, default: undefined } : f.info;
    const placeholder = info.kind === "integer" ? "n" : info.kind === "number" ? "x" : info.choices !== undefined ? "choice" : "value";
    out.push(optionFor(f.flag, info, helpText(info, scope === undefined ? {} : { scope }), placeholder));
  }
  return out;
}

export interface SettingsFromFlagsOptions {
  /** The root union's type, when the root is one (the scorer's, from --model). */
  readonly rootType?: string;
  /** The type a section without a schema default takes, given the settings so far (engine.stopping by mode). */
  readonly sectionDefault?: Readonly<Record<string, (settings: Record<string, unknown>) => string | undefined>>;
}

/**
 * The settings the given flags describe, as a nested object for the schema to validate: only
 * what was given (the schema fills defaults). A setting of another type than its section's is
 * refused naming both flags.
 */
export function settingsFromFlags(table: FlagTable, flags: Readonly<Record<string, unknown>>, opts: SettingsFromFlagsOptions = {}): Record<string, unknown> {
  const given = (flag: string): unknown => flags[flagAttr(flag)];
  const out: Record<string, unknown> = {};
  const at = (path: readonly string[]): Record<string, unknown> => {
    let cur = out;
    for (const k of path) cur = (cur[k] ??= {}) as Record<string, unknown>;
    return cur;
  };
  const chosen = new Map<FlagSection, string | undefined>();
  for (const s of [...table.sections].sort((a, b) => a.path.length - b.path.length)) {
    const subs = table.flags.filter((f) => f.section === s && given(f.flag) !== undefined);
    const explicit = s.flag === undefined ? opts.rootType : (given(s.flag) as string | undefined);
    const type = explicit ?? (subs.length === 0 ? undefined : (s.defaultType ?? opts.sectionDefault?.[s.path.join(".")]?.(out) ?? onlyTypeFor(s, subs)));
    chosen.set(s, type);
    if (type === undefined) continue;
    for (const f of subs) {
      if (f.types !== undefined && !f.types.includes(type)) {
        const what = s.path.length > 0 ? s.path.join(".") : "type";
        throw new ConfigError({
          what: `reading ${f.flag}`,
          why: `${f.flag} is a setting of ${what} ${f.types.join(" or ")}, not ${type}${s.flag === undefined ? "" : ` (add ${s.flag} ${f.types[0] as string})`}`,
          path: f.flag,
        });
      }
    }
    if (s.path.length > 0) Object.assign(at(s.path), { type });
  }
  for (const f of table.flags) {
    const v = given(f.flag);
    if (v === undefined) continue;
    if (f.section !== undefined && f.types !== undefined && chosen.get(f.section) === undefined) {
      throw new ConfigError({ what: `reading ${f.flag}`, why: `${f.flag} is a setting of ${f.section.path.join(".")} ${f.types.join(" or ")}; say which with ${f.section.flag ?? "the type"}`, path: f.flag });
    }
    at(f.path.slice(0, -1))[f.path[f.path.length - 1] as string] = v;
  }
  return out;
}

function onlyTypeFor(s: FlagSection, subs: readonly SettingFlag[]): string | undefined {
  const fits = s.types.filter((t) => subs.every((f) => f.types === undefined || f.types.includes(t)));
  return fits.length === 1 ? fits[0] : undefined;
}

/** A ConfigError about settings, retold with the flags that set them (`--num-probes` rather than `method.num_probes`). */
export function inFlagTerms(err: ConfigError, table: FlagTable, what: string): ConfigError {
  const byPath = new Map<string, string>([...table.flags.map((f) => [f.path.join("."), f.flag] as const), ...table.sections.flatMap((s) => (s.flag ? [[s.path.join("."), s.flag] as const, [[...s.path, "type"].join("."), s.flag] as const] : []))]);
  const issues = (err.details.issues as { path: string; message: string }[] | undefined) ?? [{ path: err.path, message: err.why }];
  const name = (p: string): string => byPath.get(p) ?? byPath.get(p.split(".").slice(0, -1).join(".")) ?? p;
  const lines = issues.map((i) => `${name(i.path)}: ${i.message}`);
  return new ConfigError({ what, why: lines.join("; "), path: name(issues[0]?.path ?? err.path), cause: err });
}
