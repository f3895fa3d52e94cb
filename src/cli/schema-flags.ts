/**
 * Command-line flags generated from zod schemas: the name, the help text (the field's own
 * description), the default and the choices all come from the schema, so a setting added to a
 * schema needs no second description here and a default cannot drift from the one that applies.
 */
import { Option } from "commander";
import { z } from "zod";

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
  const dflt = extra?.defaultNote ?? (info.default === undefined || info.default === "" ? undefined : `default ${typeof info.default === "string" ? info.default : JSON.stringify(info.default)}`);
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
