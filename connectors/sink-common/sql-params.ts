/**
 * Query parameters for the audit query pack: `{name:Type}` placeholders (ClickHouse's own
 * syntax), bound — never spliced as raw text.
 *
 * - ClickHouse 19.11+ binds them itself (`query_params`, sent as `param_<name>`).
 * - Older ClickHouse (Debian's 18.16) has no server-side parameters. `bindClickHouseLiterals`
 *   is the one place that turns a value into SQL text: it checks the value against the declared
 *   type and writes a literal (a checked integer, `toFloat64(0.5)`, an escaped string, `toDate('2024-05-01')`).
 *   test/unit/connectors/sink-common/sql-params.test.ts attacks it with quotes, backslashes, comments and
 *   control characters.
 * - DuckDB: each placeholder becomes `CAST($name AS TYPE)` and is bound on a prepared statement.
 *
 * Placeholders are recognised only outside string literals, quoted identifiers and comments,
 * the same places ClickHouse itself would recognise them.
 */
import { ConfigError } from "../../src/errors.js";

export const paramTypes = ["String", "UInt32", "Int64", "Float64", "Date", "DateTime"] as const;
export type ParamType = (typeof paramTypes)[number];
export type ParamValue = string | number;

export interface Placeholder {
  readonly name: string;
  readonly type: string;
  /** Offsets of the whole `{name:Type}` in the SQL text. */
  readonly start: number;
  readonly end: number;
}

const PLACEHOLDER = /\{([A-Za-z_][A-Za-z0-9_]*):([A-Za-z0-9_]+)\}/y;

/** Every `{name:Type}` outside literals, quoted identifiers and comments, in order. */
export function scanPlaceholders(sql: string): Placeholder[] {
  const out: Placeholder[] = [];
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const ch = sql[i];
    if (ch === "'" || ch === '"' || ch === "`") {
      // Quoted: skip to the closing quote; a backslash escapes the next character and a doubled
      // quote stands for one quote (both ClickHouse rules; DuckDB has only the second).
      i += 1;
      while (i < n) {
        if (sql[i] === "\\") i += 2;
        else if (sql[i] === ch) {
          if (sql[i + 1] === ch) i += 2;
          else break;
        } else i += 1;
      }
      i += 1;
      continue;
    }
    if (ch === "-" && sql[i + 1] === "-") {
      const eol = sql.indexOf("\n", i);
      i = eol < 0 ? n : eol + 1;
      continue;
    }
    if (ch === "/" && sql[i + 1] === "*") {
      const close = sql.indexOf("*/", i + 2);
      i = close < 0 ? n : close + 2;
      continue;
    }
    if (ch === "{") {
      PLACEHOLDER.lastIndex = i;
      const m = PLACEHOLDER.exec(sql);
      if (m !== null) {
        out.push({ name: m[1] as string, type: m[2] as string, start: i, end: i + m[0].length });
        i += m[0].length;
        continue;
      }
    }
    i += 1;
  }
  return out;
}

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATETIME_RE = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?Z?$/;

function bad(name: string, type: ParamType, value: unknown, why: string): ConfigError {
  return new ConfigError({
    what: `binding query parameter ${name}`,
    why: `${JSON.stringify(value)} is not a valid ${type}: ${why}`,
    path: `params.${name}`,
    expected: type,
  });
}

function validDate(y: number, mo: number, d: number): boolean {
  const t = new Date(Date.UTC(y, mo - 1, d));
  return t.getUTCFullYear() === y && t.getUTCMonth() === mo - 1 && t.getUTCDate() === d && y >= 1970 && y <= 2105;
}

/**
 * Checks `value` (a JS value, or the text given on the command line) against `type` and returns
 * the canonical value: numbers for numeric types, `YYYY-MM-DD` for Date, `YYYY-MM-DD HH:MM:SS`
 * (UTC) for DateTime, the string itself for String.
 */
export function coerceParam(name: string, type: ParamType, value: unknown): ParamValue {
  switch (type) {
    case "String":
      if (typeof value !== "string") throw bad(name, type, value, "expected text");
      return value;
    case "UInt32":
    case "Int64": {
      const num = typeof value === "number" ? value : typeof value === "string" && /^-?\d+$/.test(value.trim()) ? Number(value.trim()) : Number.NaN;
      if (!Number.isSafeInteger(num)) throw bad(name, type, value, "expected a whole number");
      if (type === "UInt32" && (num < 0 || num > 0xffffffff)) throw bad(name, type, value, "out of range 0..4294967295");
      return num;
    }
    case "Float64": {
      const num = typeof value === "number" ? value : typeof value === "string" && value.trim() !== "" ? Number(value.trim()) : Number.NaN;
      if (!Number.isFinite(num)) throw bad(name, type, value, "expected a finite number");
      return num;
    }
    case "Date": {
      const m = typeof value === "string" ? DATE_RE.exec(value.trim()) : null;
      if (m === null || !validDate(Number(m[1]), Number(m[2]), Number(m[3]))) throw bad(name, type, value, "expected YYYY-MM-DD between 1970 and 2105");
      return `${m[1]}-${m[2]}-${m[3]}`;
    }
    case "DateTime": {
      const m = typeof value === "string" ? DATETIME_RE.exec(value.trim()) : null;
      if (m === null || !validDate(Number(m[1]), Number(m[2]), Number(m[3])) || Number(m[4]) > 23 || Number(m[5]) > 59 || Number(m[6]) > 59) {
        throw bad(name, type, value, "expected YYYY-MM-DD HH:MM:SS (UTC)");
      }
      return `${m[1]}-${m[2]}-${m[3]} ${m[4]}:${m[5]}:${m[6]}`;
    }
  }
}

/** A ClickHouse string literal: backslash and quote escaped, every control character as \xHH. */
export function clickHouseString(s: string): string {
  let out = "'";
  for (const ch of s) {
    const code = ch.codePointAt(0) as number;
    if (ch === "\\") out += "\\\\";
    else if (ch === "'") out += "\\'";
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, "0")}`;
    else out += ch;
  }
  return out + "'";
}

/** The typed ClickHouse literal for an already coerced value. */
export function clickHouseLiteral(type: ParamType, value: ParamValue): string {
  switch (type) {
    case "String":
      return clickHouseString(String(value));
    case "UInt32":
    case "Int64":
      // A plain integer (coerceParam checked it is a safe integer): LIMIT on 18.16 takes only literals.
      return String(value);
    case "Float64":
      // Number#toString never yields SQL-significant characters for a finite number.
      return `toFloat64(${String(value)})`;
    case "Date":
      return `toDate(${clickHouseString(String(value))})`;
    case "DateTime":
      return `toDateTime(${clickHouseString(String(value))}, 'UTC')`;
  }
}

export interface DeclaredParam {
  readonly name: string;
  readonly type: ParamType;
}

function checkPlaceholder(p: Placeholder, declared: ReadonlyMap<string, ParamType>): ParamType {
  const type = declared.get(p.name);
  if (type === undefined) {
    throw new ConfigError({ what: "binding query parameters", why: `the query uses {${p.name}:${p.type}} but declares no parameter ${p.name}`, path: `params.${p.name}` });
  }
  if (p.type !== type) {
    throw new ConfigError({ what: "binding query parameters", why: `{${p.name}:${p.type}} does not match the declared type ${type}`, path: `params.${p.name}` });
  }
  return type;
}

/**
 * For servers without query parameters: the SQL with every placeholder replaced by the typed
 * literal of its coerced value. This is the only function that writes values into SQL text.
 */
export function bindClickHouseLiterals(sql: string, declared: readonly DeclaredParam[], values: Readonly<Record<string, unknown>>): string {
  const types = new Map(declared.map((d) => [d.name, d.type]));
  let out = "";
  let pos = 0;
  for (const p of scanPlaceholders(sql)) {
    const type = checkPlaceholder(p, types);
    if (!(p.name in values)) throw new ConfigError({ what: "binding query parameters", why: `no value for ${p.name}`, path: `params.${p.name}` });
    out += sql.slice(pos, p.start) + clickHouseLiteral(type, coerceParam(p.name, type, values[p.name]));
    pos = p.end;
  }
  return out + sql.slice(pos);
}

/** Values for ClickHouse's own `query_params`, coerced and checked against the placeholders. */
export function clickHouseQueryParams(sql: string, declared: readonly DeclaredParam[], values: Readonly<Record<string, unknown>>): Record<string, ParamValue> {
  const types = new Map(declared.map((d) => [d.name, d.type]));
  const out: Record<string, ParamValue> = {};
  for (const p of scanPlaceholders(sql)) {
    const type = checkPlaceholder(p, types);
    if (!(p.name in values)) throw new ConfigError({ what: "binding query parameters", why: `no value for ${p.name}`, path: `params.${p.name}` });
    out[p.name] = coerceParam(p.name, type, values[p.name]);
  }
  return out;
}

const DUCK_TYPES: Record<ParamType, string> = {
  String: "VARCHAR",
  UInt32: "UINTEGER",
  Int64: "BIGINT",
  Float64: "DOUBLE",
  Date: "DATE",
  DateTime: "TIMESTAMP",
};

/** DuckDB text: each placeholder becomes `CAST($name AS TYPE)`; the values to bind by name. */
export function toDuckDbStatement(
  sql: string,
  declared: readonly DeclaredParam[],
  values: Readonly<Record<string, unknown>>,
): { sql: string; values: Record<string, ParamValue> } {
  const types = new Map(declared.map((d) => [d.name, d.type]));
  let out = "";
  let pos = 0;
  const bound: Record<string, ParamValue> = {};
  for (const p of scanPlaceholders(sql)) {
    const type = checkPlaceholder(p, types);
    if (!(p.name in values)) throw new ConfigError({ what: "binding query parameters", why: `no value for ${p.name}`, path: `params.${p.name}` });
    bound[p.name] = coerceParam(p.name, type, values[p.name]);
    out += `${sql.slice(pos, p.start)}CAST($${p.name} AS ${DUCK_TYPES[type]})`;
    pos = p.end;
  }
  return { sql: out + sql.slice(pos), values: bound };
}

/**
 * ClickHouse text for server-side parameters. DateTime placeholders become
 * `toDateTime({name:String}, 'UTC')`: a `{name:DateTime}` parameter would be read in the
 * server's time zone, and every timestamp column here is UTC.
 */
export function clickHouseNativeSql(sql: string): string {
  let out = "";
  let pos = 0;
  for (const p of scanPlaceholders(sql)) {
    out += sql.slice(pos, p.start) + (p.type === "DateTime" ? `toDateTime({${p.name}:String}, 'UTC')` : sql.slice(p.start, p.end));
    pos = p.end;
  }
  return out + sql.slice(pos);
}
