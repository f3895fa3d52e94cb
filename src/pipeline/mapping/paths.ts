/**
 * Dotted paths into logged JSON, as users write them in `mapping.fields`:
 * `response.choices.0.message.content`, `request.messages[0].content`, `attributes.gen_ai.request.model`.
 *
 * Keys may themselves contain dots (OTel attribute maps are flat: `{"gen_ai.request.model": …}`),
 * so at each object the longest key that matches the next segments wins. An OTLP attribute list
 * (`[{key, value: {stringValue}}]`) is read as a map, and its AnyValue unwrapped.
 */

export type PathSegment = string | number;

/** Splits `a.b[0].c` into ["a", "b", 0, "c"]; numeric segments become indices. */
export function parsePath(path: string): PathSegment[] {
  const out: PathSegment[] = [];
  for (const part of path.split(".")) {
    const m = /^([^[\]]*)((?:\[\d+\])*)$/.exec(part);
    if (!m) {
      out.push(part);
      continue;
    }
    const head = m[1] ?? "";
    if (head !== "") out.push(/^\d+$/.test(head) ? Number(head) : head);
    for (const idx of (m[2] ?? "").matchAll(/\[(\d+)\]/g)) out.push(Number(idx[1]));
  }
  return out;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** True for OTLP KeyValue lists: `[{ key: "…", value: {…} }]`. */
export function isOtlpKeyValueList(v: unknown): v is { key: string; value?: unknown }[] {
  return Array.isArray(v) && v.length > 0 && v.every((e) => isRecord(e) && typeof e.key === "string" && ("value" in e || Object.keys(e).length === 1));
}

/** Unwraps an OTLP AnyValue (`{stringValue}`, `{intValue}`, `{arrayValue: {values}}`, `{kvlistValue}`) to plain JSON. */
export function unwrapAnyValue(v: unknown): unknown {
  if (!isRecord(v)) return v;
  if ("stringValue" in v) return v.stringValue;
  if ("boolValue" in v) return v.boolValue;
  if ("intValue" in v) {
    const n = v.intValue;
    return typeof n === "string" && /^-?\d+$/.test(n) ? Number(n) : n;
  }
  if ("doubleValue" in v) return v.doubleValue;
  if ("bytesValue" in v) return v.bytesValue;
  if ("arrayValue" in v) {
    const arr = isRecord(v.arrayValue) ? v.arrayValue.values : undefined;
    return Array.isArray(arr) ? arr.map(unwrapAnyValue) : [];
  }
  if ("kvlistValue" in v) {
    const list = isRecord(v.kvlistValue) ? v.kvlistValue.values : undefined;
    return Array.isArray(list) ? otlpAttributesToObject(list) : {};
  }
  return v;
}

/** An OTLP KeyValue list as a flat object (`{"gen_ai.request.model": "gpt-4o"}`). */
export function otlpAttributesToObject(list: readonly unknown[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const e of list) {
    if (isRecord(e) && typeof e.key === "string") out[e.key] = unwrapAnyValue(e.value);
  }
  return out;
}

function step(cur: unknown, segs: readonly PathSegment[], i: number): { value: unknown; next: number } | undefined {
  const seg = segs[i];
  if (seg === undefined) return undefined;
  if (Array.isArray(cur)) {
    if (typeof seg === "number") return seg < cur.length ? { value: cur[seg], next: i + 1 } : undefined;
    if (isOtlpKeyValueList(cur)) return step(otlpAttributesToObject(cur), segs, i);
    return undefined;
  }
  if (!isRecord(cur)) return undefined;
  // Longest key first: "gen_ai.request.model" beats "gen_ai".
  for (let j = segs.length; j > i; j--) {
    const key = segs.slice(i, j).join(".");
    if (Object.prototype.hasOwnProperty.call(cur, key)) return { value: cur[key], next: j };
  }
  return undefined;
}

/** The value at `path` (a string or parsed segments), or undefined. */
export function getPath(doc: unknown, path: string | readonly PathSegment[]): unknown {
  const segs = typeof path === "string" ? parsePath(path) : path;
  let cur: unknown = doc;
  let i = 0;
  while (i < segs.length) {
    const r = step(cur, segs, i);
    if (r === undefined) return undefined;
    cur = r.value;
    i = r.next;
  }
  return isRecord(cur) && ("stringValue" in cur || "intValue" in cur || "arrayValue" in cur) && Object.keys(cur).length === 1 ? unwrapAnyValue(cur) : cur;
}

/** Indexed, flattened lists (`llm.input_messages.0.message.role`): the entries under `prefix.N.`, in index order. */
export function indexedEntries(attrs: Readonly<Record<string, unknown>>, prefix: string): Map<number, Record<string, unknown>> {
  const byIndex = new Map<number, Record<string, unknown>>();
  const p = `${prefix}.`;
  for (const [k, v] of Object.entries(attrs)) {
    if (!k.startsWith(p)) continue;
    const rest = k.slice(p.length);
    const m = /^(\d+)(?:\.(.*))?$/.exec(rest);
    if (!m) continue;
    const idx = Number(m[1]);
    let entry = byIndex.get(idx);
    if (!entry) {
      entry = {};
      byIndex.set(idx, entry);
    }
    entry[m[2] ?? ""] = v;
  }
  return new Map([...byIndex.entries()].sort((a, b) => a[0] - b[0]));
}
