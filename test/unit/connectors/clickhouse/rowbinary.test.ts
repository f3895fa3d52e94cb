import { describe, expect, it } from "vitest";
import { ByteWriter, columnEncoder, rowBinaryEncoder } from "../../../../connectors/clickhouse/rowbinary.js";
import type { ColumnSpec } from "../../../../connectors/sink-common/tables.js";
import { ATTRIBUTION_COVERAGE } from "../../../../connectors/sink-common/tables.js";

const bytes = (f: (w: ByteWriter) => void): number[] => {
  const w = new ByteWriter(4);
  f(w);
  return [...w.bytes()];
};
const col = (c: Partial<ColumnSpec> & Pick<ColumnSpec, "type">): ColumnSpec => ({ name: "c", doc: "", ...c });
const enc = (c: ColumnSpec, v: unknown, dt64 = false): number[] => bytes((w) => columnEncoder(c, dt64)(w, v));

describe("RowBinary", () => {
  it("writes little-endian numbers, LEB128 lengths and UTF-8 strings", () => {
    expect(bytes((w) => w.u16(0x0102))).toEqual([2, 1]);
    expect(bytes((w) => w.u64(2 ** 40 + 5))).toEqual([5, 0, 0, 0, 0, 1, 0, 0]);
    expect(bytes((w) => w.i64(-2))).toEqual([0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    expect(bytes((w) => w.i64(-(2 ** 40)))).toEqual([0, 0, 0, 0, 0, 0xff, 0xff, 0xff]);
    expect(bytes((w) => w.varuint(300))).toEqual([0xac, 0x02]);
    expect(bytes((w) => w.string("ab"))).toEqual([2, 0x61, 0x62]);
    expect(bytes((w) => w.string("é✓"))).toEqual([5, 0xc3, 0xa9, 0xe2, 0x9c, 0x93]);
    const long = "x".repeat(200);
    expect(bytes((w) => w.string(long)).slice(0, 2)).toEqual([0xc8, 0x01]);
  });

  it("keeps float bits exactly", () => {
    const x = 8.187363960132643e-7;
    const b = Buffer.from(enc(col({ type: "f32" }), Math.fround(x)));
    expect(b.readFloatLE(0)).toBe(Math.fround(x));
    const d = Buffer.from(enc(col({ type: "f64" }), 0.1 + 0.2));
    expect(d.readDoubleLE(0)).toBe(0.1 + 0.2);
  });

  it("encodes Nullable, arrays (of nullables), Date, DateTime and DateTime64", () => {
    expect(enc(col({ type: "string", nullable: true }), null)).toEqual([1]);
    expect(enc(col({ type: "string", nullable: true }), "a")).toEqual([0, 1, 0x61]);
    expect(enc(col({ type: "i32", array: 1, elementNullable: true }), [1, null])).toEqual([2, 0, 1, 0, 0, 0, 1]);
    expect(enc(col({ type: "f32", array: 2 }), [[], [0]])).toEqual([2, 0, 1, 0, 0, 0, 0]);
    expect(enc(col({ type: "date" }), "1970-01-03")).toEqual([2, 0]);
    expect(enc(col({ type: "time" }), "1970-01-01T00:00:01.999Z")).toEqual([1, 0, 0, 0]);
    expect(enc(col({ type: "time" }), "1970-01-01T00:00:01.999Z", true)).toEqual([0xcf, 0x07, 0, 0, 0, 0, 0, 0]);
  });

  it("encodes rows in the column order it declares", () => {
    const e = rowBinaryEncoder(ATTRIBUTION_COVERAGE, false);
    expect(e.columnList).toBe("(`source`, `source_partition`, `window_start`, `consumed`, `sampled`, `recorded_at`)");
    const b = e.encode([{ recorded_at: "1970-01-01T00:00:02Z", sampled: 1, consumed: 2, window_start: "1970-01-01T00:00:01Z", source_partition: "", source: "s" }]);
    expect([...b]).toEqual([1, 0x73, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0]);
  });
});
