/**
 * Turning what a store hands back into the store-neutral rows of rows.ts, column by column from
 * the table spec: timestamps to ISO-8601 UTC, 64-bit integers (strings in some drivers) to
 * numbers, Float32 values through Math.fround so they compare equal to what was written.
 */
import type { ColumnSpec, TableSpec } from "./tables.js";

/** `YYYY-MM-DD HH:MM:SS[.fff]` (UTC, as both stores print it) or ISO-8601 to ISO-8601 UTC with ms. */
export function storeTimeToIso(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  const s = (typeof value === "string" ? value : JSON.stringify(value)).trim();
  const iso = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d+)?$/.test(s) ? `${s.replace(" ", "T")}Z` : s;
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms)) throw new RangeError(`"${s}" is not a timestamp`);
  return new Date(ms).toISOString();
}

const text = (v: unknown): string => (typeof v === "string" ? v : typeof v === "number" || typeof v === "bigint" ? v.toString() : JSON.stringify(v));

function scalar(col: ColumnSpec, v: unknown): unknown {
  if (v === null || v === undefined) return null;
  switch (col.type) {
    case "string":
      return text(v);
    case "date":
      return text(v).slice(0, 10);
    case "time":
      return storeTimeToIso(v);
    case "f32":
      return Math.fround(Number(v));
    default:
      return Number(v);
  }
}

function decodeValue(col: ColumnSpec, v: unknown, depth: number): unknown {
  if (depth > 0) {
    if (v === null || v === undefined) return [];
    if (!Array.isArray(v)) throw new TypeError(`column ${col.name}: expected an array, got ${typeof v}`);
    return v.map((x) => decodeValue(col, x, depth - 1));
  }
  return scalar(col, v);
}

/** One row as the store returned it (an object keyed by column name) to the typed row. */
export function decodeRow<Row>(spec: TableSpec, raw: Readonly<Record<string, unknown>>): Row {
  const out: Record<string, unknown> = {};
  for (const col of spec.columns) {
    if (!(col.name in raw)) throw new TypeError(`table ${spec.name}: column ${col.name} is missing from the row read back`);
    out[col.name] = decodeValue(col, raw[col.name], col.array ?? 0);
  }
  return out as Row;
}
