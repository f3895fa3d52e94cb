/**
 * Reading zod schemas as data: the schema at a config path (following the data through
 * discriminated unions), an object's keys, a union's options. Config errors, deprecated names
 * and generated CLI flags all walk schemas with these, so they agree on what a path means.
 */
import type { z } from "zod";

/** The parts of a zod 4 schema definition this walker reads. */
export interface Def {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  element?: z.ZodType;
  options?: z.ZodType[];
  valueType?: z.ZodType;
  in?: z.ZodType;
  out?: z.ZodType;
  values?: unknown[];
  discriminator?: string;
  entries?: Record<string, unknown>;
}

export function defOf(s: z.ZodType): Def {
  return (s as unknown as { _zod: { def: Def } })._zod.def;
}

/** Strips optional/default/prefault/nullable/readonly/catch wrappers and pipes down to the schema that validates. */
export function unwrap(s: z.ZodType): z.ZodType {
  let cur = s;
  for (;;) {
    const d = defOf(cur);
    if ((d.type === "optional" || d.type === "default" || d.type === "prefault" || d.type === "nullable" || d.type === "readonly" || d.type === "catch") && d.innerType) cur = d.innerType;
    else if (d.type === "pipe" && d.in) cur = pipeSchema(d);
    else return cur;
  }
}

/** The side of a pipe that validates: the input side of `.transform()`, the output side of `z.preprocess()`. */
export function pipeSchema(d: Def): z.ZodType {
  return d.in !== undefined && defOf(d.in).type === "transform" && d.out !== undefined ? d.out : (d.in as z.ZodType);
}

export function getAt(data: unknown, key: PropertyKey): unknown {
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

/** The option of a union that `data` selects (by discriminator, or the only object option). */
export function pickUnion(s: z.ZodType, data: unknown): z.ZodType | undefined {
  const def = defOf(s);
  if (def.type !== "union" || !def.options) return s;
  if (def.discriminator !== undefined) {
    const want = getAt(data, def.discriminator);
    return def.options.find((o) => discriminatorValues(o, def.discriminator as string).includes(want));
  }
  const objects = def.options.map(unwrap).filter((o) => defOf(o).type === "object");
  return objects.length === 1 ? objects[0] : s;
}

export function discriminatorValues(s: z.ZodType, key: string): unknown[] {
  const def = defOf(unwrap(s));
  const field = def.shape?.[key];
  if (!field) return [];
  const fd = defOf(unwrap(field));
  if (fd.type === "literal") return fd.values ?? [];
  if (fd.type === "enum") return Object.values(fd.entries ?? {});
  return [];
}

/** Valid keys of the object schema at `path`. */
export function keysAt(root: z.ZodType, data: unknown, path: readonly PropertyKey[]): string[] {
  const s = schemaAt(root, data, path);
  if (!s) return [];
  const def = defOf(s);
  return def.type === "object" ? Object.keys(def.shape ?? {}) : [];
}
