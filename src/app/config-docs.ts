/**
 * Renders config reference docs from component schemas: one section per component, a table of
 * every field (dotted path, type, default, description) read from the schema's JSON Schema, and
 * the section's example. docs/config.md is generated with this (`npm run config:docs`), so the
 * docs cannot drift from the code; a unit test fails when the committed file is stale.
 */
import { z } from "zod";
import { renamedFieldsOf } from "../config-aliases.js";

export interface DocSection {
  readonly id: string;
  readonly key: string;
  readonly type?: string;
  readonly title: string;
  readonly schema: z.ZodType;
  readonly declaredIn: string;
  readonly example?: string;
}

type Json = Record<string, unknown>;

interface Row {
  readonly path: string;
  readonly type: string;
  readonly dflt: string;
  readonly description: string;
}

function isObj(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function typeOf(s: Json): string {
  if ("const" in s) return `\`${JSON.stringify(s.const)}\``;
  if (Array.isArray(s.enum)) return s.enum.map((e) => `\`${JSON.stringify(e)}\``).join(" \\| ");
  const alts = (s.anyOf ?? s.oneOf) as Json[] | undefined;
  if (Array.isArray(alts)) return [...new Set(alts.map((a) => typeOf(a)))].join(" \\| ");
  const t = s.type;
  if (t === "array") {
    const items = isObj(s.items) ? s.items : {};
    return `${isObj(items) && (items.type === "object" || items.properties) ? "list of objects" : `list of ${typeOf(items)}`}`;
  }
  if (t === "object" || s.properties) {
    if (isObj(s.additionalProperties) && !s.properties) return `map of ${typeOf(s.additionalProperties)}`;
    return "object";
  }
  if (t === "integer" || t === "number") {
    const finite = (v: unknown): v is number => typeof v === "number" && Math.abs(v) < Number.MAX_SAFE_INTEGER;
    const lo = finite(s.minimum) ? `≥ ${s.minimum}` : finite(s.exclusiveMinimum) ? `> ${s.exclusiveMinimum}` : undefined;
    const hi = finite(s.maximum) ? `≤ ${s.maximum}` : finite(s.exclusiveMaximum) ? `< ${s.exclusiveMaximum}` : undefined;
    const range = finite(s.minimum) && finite(s.maximum) ? `${s.minimum}–${s.maximum}` : [lo, hi].filter((x) => x !== undefined).join(", ");
    return range === "" ? t : `${t} (${range})`;
  }
  if (typeof t === "string") return t;
  if (Array.isArray(t)) return t.join(" \\| ");
  return "any";
}

function esc(s: string): string {
  return s.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

function defaultOf(s: Json, required: boolean): string {
  if ("default" in s) {
    const d = s.default;
    if (isObj(d) && Object.keys(d).length === 0) return "{}";
    return `\`${JSON.stringify(d)}\``;
  }
  return required ? "**required**" : "—";
}

/** Object alternatives of a union (e.g. `ssl: true | {ca_file…}`) contribute their fields. */
function objectVariants(s: Json): Json[] {
  if (s.properties) return [s];
  const alts = (s.anyOf ?? s.oneOf) as Json[] | undefined;
  if (Array.isArray(alts)) return alts.flatMap(objectVariants);
  return [];
}

function mergeTypes(a: string, b: string): string {
  return [...new Set([...a.split(" \\| "), ...b.split(" \\| ")])].join(" \\| ");
}

/** The `type` constant a union option is selected by, if any. */
function typeTag(variant: Json): string | undefined {
  const t = (variant.properties as Record<string, Json> | undefined)?.type;
  return t !== undefined && "const" in t && typeof t.const === "string" ? t.const : undefined;
}

function walk(s: Json, prefix: string, rows: Map<string, Row>, seenIn: Map<string, Set<string>>): void {
  const variants = objectVariants(s);
  const tags = variants.map(typeTag);
  const perType = tags.length > 1 && tags.every((t) => t !== undefined);
  // This union's own fields: only they get its "(which types)" note, once.
  const own = new Set<string>();
  for (const [i, variant] of variants.entries()) {
    const props = (variant.properties ?? {}) as Record<string, Json>;
    const req = new Set((variant.required as string[] | undefined) ?? []);
    const tag = perType ? (tags[i] as string) : undefined;
    for (const [name, p] of Object.entries(props)) {
      const path = prefix === "" ? name : `${prefix}.${name}`;
      own.add(path);
      if (tag !== undefined) seenIn.set(path, (seenIn.get(path) ?? new Set()).add(tag));
      const prev = rows.get(path);
      const type = typeOf(p);
      if (prev) {
        // The same field in another union variant (sasl.mechanism, a scorer's url): merge the types.
        rows.set(path, { ...prev, type: mergeTypes(prev.type, type) });
        continue;
      }
      rows.set(path, { path, type, dflt: defaultOf(p, req.has(name)), description: typeof p.description === "string" ? p.description : "" });
      const nested = objectVariants(p);
      if (nested.length > 0) walk(p, path, rows, seenIn);
      if (p.type === "array" && isObj(p.items) && objectVariants(p.items).length > 0) walk(p.items, `${path}[]`, rows, seenIn);
      if (isObj(p.additionalProperties) && objectVariants(p.additionalProperties).length > 0) walk(p.additionalProperties, `${path}.<key>`, rows, seenIn);
    }
  }
  if (!perType) return;
  // A union selected by `type` (the scorer): say what each type is and which types take a field.
  const all = tags;
  const typeRow = rows.get(prefix === "" ? "type" : `${prefix}.type`);
  if (typeRow) {
    const what = variants.map((v, i) => {
      const d = typeof v.description === "string" ? v.description : (v.properties as Record<string, Json>).type?.description;
      return `\`${all[i] as string}\`${typeof d === "string" ? `: ${d}` : ""}`;
    });
    rows.set(typeRow.path, { ...typeRow, description: what.join("; ") });
  }
  for (const path of own) {
    const row = rows.get(path) as Row;
    const inTypes = seenIn.get(path);
    if (inTypes === undefined || path === typeRow?.path || inTypes.size === all.length) continue;
    rows.set(path, { ...row, dflt: row.dflt, description: `(${[...inTypes].join(", ")}) ${row.description}` });
  }
}

/** The field table of a schema. */
export function fieldRows(schema: z.ZodType): Row[] {
  const js = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as Json;
  const rows = new Map<string, Row>();
  walk(js, "", rows, new Map());
  return [...rows.values()];
}

export function renderSection(s: DocSection): string {
  const js = z.toJSONSchema(s.schema, { io: "input", unrepresentable: "any" }) as Json;
  const rows = fieldRows(s.schema);
  const where = s.type === undefined ? `\`${s.key}:\`` : `\`${s.key}\` with \`type: ${s.type}\``;
  const out = [
    `<a id="${s.id}"></a>`,
    `## ${s.title}`,
    "",
    ...(typeof js.description === "string" ? [js.description, ""] : []),
    `Where: ${where}. Declared in \`${s.declaredIn}\`.`,
    "",
    "| field | type | default | description |",
    "|---|---|---|---|",
    ...rows.map((r) => `| \`${r.path}\` | ${r.type} | ${esc(r.dflt)} | ${esc(r.description)} |`),
  ];
  const old = renamedFieldsOf(s.schema);
  if (old.length > 0) {
    out.push("", `Deprecated names (still read in this release, with a warning): ${old.map((f) => `\`${f.from}\` → \`${f.to}\``).join(", ")}.`);
  }
  if (s.example !== undefined) out.push("", "Example:", "", "```yaml", s.example.trimEnd(), "```");
  return out.join("\n");
}

export interface RenderOptions {
  readonly title: string;
  readonly intro: string;
  readonly generator: string;
}

export function renderConfigDocs(sections: readonly DocSection[], opts: RenderOptions): string {
  const toc = sections.map((s) => `- [${s.title}](#${s.id})`).join("\n");
  return `${[
    `<!-- GENERATED FILE: do not edit. Edit the schema named in each section and run \`${opts.generator}\`. -->`,
    `# ${opts.title}`,
    "",
    opts.intro.trim(),
    "",
    toc,
    "",
    ...sections.map((s) => `${renderSection(s)}\n`),
  ].join("\n").trimEnd()}\n`;
}
