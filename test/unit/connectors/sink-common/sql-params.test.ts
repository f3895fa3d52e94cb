import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  bindClickHouseLiterals,
  clickHouseLiteral,
  clickHouseNativeSql,
  clickHouseQueryParams,
  clickHouseString,
  coerceParam,
  scanPlaceholders,
  toDuckDbStatement,
} from "../../../../connectors/sink-common/sql-params.js";
import type { DeclaredParam } from "../../../../connectors/sink-common/sql-params.js";
import { ConfigError } from "../../../../src/errors.js";

/** Reads a ClickHouse quoted string starting at `sql[0]`; returns its value and where it ended. */
function readClickHouseString(sql: string): { value: string; end: number } {
  expect(sql[0]).toBe("'");
  let i = 1;
  let value = "";
  while (i < sql.length) {
    const ch = sql[i] as string;
    if (ch === "\\") {
      const next = sql[i + 1] as string;
      if (next === "x") {
        value += String.fromCharCode(parseInt(sql.slice(i + 2, i + 4), 16));
        i += 4;
      } else {
        value += next;
        i += 2;
      }
      continue;
    }
    if (ch === "'") return { value, end: i + 1 };
    value += ch;
    i += 1;
  }
  throw new Error("unterminated string");
}

const declared: DeclaredParam[] = [
  { name: "s", type: "String" },
  { name: "n", type: "UInt32" },
  { name: "f", type: "Float64" },
  { name: "d", type: "Date" },
  { name: "t", type: "DateTime" },
  { name: "i", type: "Int64" },
];

describe("scanPlaceholders", () => {
  it("finds {name:Type} outside literals, quoted identifiers and comments", () => {
    const sql = `SELECT '{a:String}', "{b:String}", \`{c:String}\` -- {d:String}
      /* {e:String} */ FROM t WHERE x = {s:String} AND y = 'it''s {f:String}' AND z = 'a\\'{g:String}' AND w = {n:UInt32}`;
    expect(scanPlaceholders(sql).map((p) => `${p.name}:${p.type}`)).toEqual(["s:String", "n:UInt32"]);
  });

  it("ignores braces that are not placeholders", () => {
    expect(scanPlaceholders("SELECT {} , {x}, {1:String}, {{attributions}}")).toEqual([]);
  });
});

describe("coerceParam", () => {
  it("accepts typed values and command-line text", () => {
    expect(coerceParam("n", "UInt32", "42")).toBe(42);
    expect(coerceParam("n", "UInt32", 7)).toBe(7);
    expect(coerceParam("i", "Int64", "-5")).toBe(-5);
    expect(coerceParam("f", "Float64", "0.25")).toBe(0.25);
    expect(coerceParam("f", "Float64", "1e-3")).toBe(0.001);
    expect(coerceParam("d", "Date", "2024-05-01")).toBe("2024-05-01");
    expect(coerceParam("t", "DateTime", "2024-05-01T10:11:12.5Z")).toBe("2024-05-01 10:11:12");
    expect(coerceParam("s", "String", "x' OR 1=1")).toBe("x' OR 1=1");
  });

  it.each([
    ["n", "UInt32", "1; DROP TABLE x"],
    ["n", "UInt32", "-1"],
    ["n", "UInt32", "4294967296"],
    ["n", "UInt32", 1.5],
    ["i", "Int64", "9007199254740993"],
    ["f", "Float64", "NaN"],
    ["f", "Float64", "Infinity"],
    ["f", "Float64", "0.5) OR (1"],
    ["d", "Date", "2024-02-30"],
    ["d", "Date", "2024-05-01') OR ('1"],
    ["t", "DateTime", "2024-05-01 25:00:00"],
    ["s", "String", 5],
  ] as const)("rejects %s=%j as %s", (name, type, value) => {
    expect(() => coerceParam(name, type, value)).toThrow(ConfigError);
  });
});

describe("clickHouseString (the only value-to-SQL path on 18.16)", () => {
  it("escapes quotes, backslashes and control characters", () => {
    expect(clickHouseString("it's")).toBe("'it\\'s'");
    expect(clickHouseString("a\\b")).toBe("'a\\\\b'");
    expect(clickHouseString("x\ny\tz\0")).toBe("'x\\x0ay\\x09z\\x00'");
    expect(clickHouseString("ünï ✓ 🙂")).toBe("'ünï ✓ 🙂'");
  });

  it("round-trips any string and always ends exactly where it should (property)", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 64 }), fc.string({ maxLength: 8 }), (s, tail) => {
        const lit = clickHouseString(s);
        const { value, end } = readClickHouseString(lit + tail);
        expect(value).toBe(s);
        expect(end).toBe(lit.length);
      }),
      { numRuns: 500 },
    );
  });
});

describe("bindClickHouseLiterals", () => {
  const values = { s: "x' OR 1=1 --", n: 10, f: 0.5, d: "2024-05-01", t: "2024-05-01 10:00:00", i: -3 };

  it("writes typed literals for every placeholder", () => {
    const sql = "SELECT {s:String}, {n:UInt32}, {f:Float64}, {d:Date}, {t:DateTime}, {i:Int64} LIMIT {n:UInt32}";
    expect(bindClickHouseLiterals(sql, declared, values)).toBe(
      "SELECT 'x\\' OR 1=1 --', 10, toFloat64(0.5), toDate('2024-05-01'), toDateTime('2024-05-01 10:00:00', 'UTC'), -3 LIMIT 10",
    );
  });

  it("keeps injection attempts inside the literal", () => {
    for (const attack of ["'; DROP TABLE attributions; --", "\\'); SELECT 1; --", "x\\", "{n:UInt32}", "*/ OR 1=1 /*", "\n; SYSTEM SHUTDOWN"]) {
      const sql = bindClickHouseLiterals("SELECT 1 WHERE a = {s:String} AND b = 2", declared, { s: attack });
      const start = sql.indexOf("'");
      const { value, end } = readClickHouseString(sql.slice(start));
      expect(value).toBe(attack);
      expect(sql.slice(start + end)).toBe(" AND b = 2");
      // Nothing in the bound text is a placeholder any more.
      expect(scanPlaceholders(sql)).toEqual([]);
    }
  });

  it("refuses undeclared placeholders, type mismatches and missing values", () => {
    expect(() => bindClickHouseLiterals("SELECT {x:String}", declared, {})).toThrow(/declares no parameter x/);
    expect(() => bindClickHouseLiterals("SELECT {s:UInt32}", declared, { s: "1" })).toThrow(/does not match the declared type String/);
    expect(() => bindClickHouseLiterals("SELECT {s:String}", declared, {})).toThrow(/no value for s/);
    expect(() => bindClickHouseLiterals("SELECT {n:UInt32}", declared, { n: "1 OR 1" })).toThrow(ConfigError);
  });

  it("clickHouseLiteral never emits anything but digits for integers", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (n) => {
        expect(clickHouseLiteral("UInt32", coerceParam("n", "UInt32", String(n)))).toMatch(/^\d+$/);
      }),
    );
  });
});

describe("server-side parameters", () => {
  it("passes coerced values and rewrites DateTime placeholders to UTC", () => {
    const sql = "SELECT {s:String}, {t:DateTime}";
    expect(clickHouseQueryParams(sql, declared, { s: "a", t: "2024-05-01T10:00:00Z" })).toEqual({ s: "a", t: "2024-05-01 10:00:00" });
    expect(clickHouseNativeSql(sql)).toBe("SELECT {s:String}, toDateTime({t:String}, 'UTC')");
  });

  it("DuckDB: placeholders become typed casts of named parameters", () => {
    const st = toDuckDbStatement("SELECT {s:String}, {d:Date}, {n:UInt32} WHERE x = '{s:String}'", declared, { s: "a'b", d: "2024-05-01", n: "3" });
    expect(st.sql).toBe("SELECT CAST($s AS VARCHAR), CAST($d AS DATE), CAST($n AS UINTEGER) WHERE x = '{s:String}'");
    expect(st.values).toEqual({ s: "a'b", d: "2024-05-01", n: 3 });
  });
});
