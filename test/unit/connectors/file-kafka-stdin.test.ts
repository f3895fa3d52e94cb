import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { AttributionResult } from "../../../schemas/attribution-result.js";
import { JsonlDeadLetters } from "../../../connectors/file/dead-letters.js";
import { JsonlSink, jsonlSinkConfigSchema } from "../../../connectors/file/jsonl-sink.js";
import { ReplayProgress } from "../../../connectors/file/progress.js";
import { createFileSource, fileSourceConfigSchema } from "../../../connectors/file/source.js";
import { kafkaClientConfig, brokerList } from "../../../connectors/kafka/client.js";
import { kafkaSourceConfigSchema } from "../../../connectors/kafka/config.js";
import { createStdinSource, stdinSourceConfigSchema } from "../../../connectors/stdin/source.js";
import { ConfigError, RecordValidationError } from "../../../src/errors.js";
import type { SourceHandler, SourceMessage } from "../../../src/pipeline/contracts.js";
import { DLQ_HEADERS, buildDeadLetter, deadLetterHeaders } from "../../../src/pipeline/dead-letter.js";

let dir = "";
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "reagent-conn-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function result(id: string): AttributionResult {
  return { schema_version: 1, attribution_id: id, context: { record_id: id } } as unknown as AttributionResult;
}

function handler(): SourceHandler & { got: SourceMessage[]; skippedOffsets: bigint[]; done: Promise<void> } {
  let resolveDone: () => void = () => undefined;
  const done = new Promise<void>((r) => (resolveDone = r));
  const got: SourceMessage[] = [];
  const skippedOffsets: bigint[] = [];
  return {
    got,
    skippedOffsets,
    done,
    offer: (m) => {
      got.push(m);
      return true;
    },
    skipped: (_p, o) => skippedOffsets.push(o),
    assigned: () => undefined,
    revoked: () => undefined,
    ended: () => resolveDone(),
    failed: (e) => {
      throw e;
    },
  };
}

describe("JSONL sink", () => {
  it("acknowledges a write once it is in the file, and skips attribution ids already there (also after a restart)", async () => {
    const path = join(dir, "out/results.jsonl");
    const sink = new JsonlSink(jsonlSinkConfigSchema.parse({ type: "jsonl", path }));
    await sink.start();
    await Promise.all([sink.write(result("a")), sink.write(result("b")), sink.write(result("a"))]);
    expect(readFileSync(path, "utf8").trim().split("\n")).toHaveLength(2);
    await sink.close();
    const again = new JsonlSink(jsonlSinkConfigSchema.parse({ type: "jsonl", path }));
    await again.start();
    await again.write(result("b"));
    await again.write(result("c"));
    await again.close();
    expect(readFileSync(path, "utf8").trim().split("\n").map((l) => (JSON.parse(l) as { attribution_id: string }).attribution_id)).toEqual(["a", "b", "c"]);
  });

  it("repairs a line torn by a killed writer, so the next line stays readable", async () => {
    const path = join(dir, "r.jsonl");
    writeFileSync(path, `${JSON.stringify(result("a"))}\n{"schema_version":1,"attribution_id":"tor`);
    const sink = new JsonlSink(jsonlSinkConfigSchema.parse({ type: "jsonl", path }));
    await sink.start();
    await sink.write(result("tor")); // the torn line does not count as written
    await sink.close();
    const lines = readFileSync(path, "utf8").split("\n");
    expect(JSON.parse(lines[2]!)).toMatchObject({ attribution_id: "tor" });
  });
});

describe("dead letters", () => {
  const msg: SourceMessage = { partition: "t/3", offset: 42n, key: Buffer.from("k"), value: Buffer.from('{"x":'), headers: { trace: "abc" }, timestamp: null };
  const err = new RecordValidationError({ what: "parsing the record", why: "not JSON", issues: [{ path: "", message: "not JSON" }] });

  it("carry the original headers plus reason, stage, code, attempts, time and position", () => {
    const h = deadLetterHeaders(buildDeadLetter(msg, "parse", err, 1, null, new Date("2024-01-01T00:00:00Z")));
    expect(h).toMatchObject({
      trace: "abc",
      [DLQ_HEADERS.reason]: "parsing the record: not JSON",
      [DLQ_HEADERS.stage]: "parse",
      [DLQ_HEADERS.code]: "record_invalid",
      [DLQ_HEADERS.attempts]: "1",
      [DLQ_HEADERS.time]: "2024-01-01T00:00:00.000Z",
      [DLQ_HEADERS.partition]: "t/3",
      [DLQ_HEADERS.offset]: "42",
    });
    expect(JSON.parse(h[DLQ_HEADERS.issues]!)).toEqual([{ path: "", message: "not JSON" }]);
  });

  it("go to a JSONL file with the original bytes (base64 when not UTF-8)", async () => {
    const path = join(dir, "dlq.jsonl");
    const d = new JsonlDeadLetters({ type: "jsonl", path, fsync: true });
    await d.start();
    await d.write(buildDeadLetter(msg, "parse", err, 1, null));
    await d.write(buildDeadLetter({ ...msg, value: Buffer.from([0xff, 0xfe]) }, "parse", err, 1, null));
    await d.close();
    const [a, b] = readFileSync(path, "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(a).toMatchObject({ stage: "parse", error_code: "record_invalid", value: '{"x":', source: { partition: "t/3", offset: "42" } });
    expect(b).toMatchObject({ value_base64: "//4=" });
  });
});

describe("file and stdin sources", () => {
  it("offer lines with line-number offsets (blank ones too: the pipeline counts them), handle CRLF and a last line without newline", async () => {
    const path = join(dir, "in.jsonl");
    writeFileSync(path, '{"a":1}\r\n\n  \n{"a":2}\n{"a":3}');
    const src = createFileSource(fileSourceConfigSchema.parse({ type: "file", path, progress: "off" }));
    const h = handler();
    await src.start(h);
    await h.done;
    await src.stop();
    expect(h.got.map((m) => [m.offset, m.value.toString()])).toEqual([
      [0n, '{"a":1}'],
      [1n, ""],
      [2n, "  "],
      [3n, '{"a":2}'],
      [4n, '{"a":3}'],
    ]);
    expect(h.skippedOffsets).toEqual([]);
  });

  it("resume after the committed line from the checkpoint (files seek, stdin skips)", async () => {
    const path = join(dir, "in.jsonl");
    const cp = join(dir, "cp.json");
    writeFileSync(path, ["a", "b", "c", "d"].map((x) => JSON.stringify({ x })).join("\n") + "\n");
    const s1 = createFileSource(fileSourceConfigSchema.parse({ type: "file", path, checkpoint: cp, progress: "off" }));
    const h1 = handler();
    await s1.start(h1);
    await h1.done;
    await s1.commit(new Map([[path, 2n]]));
    await s1.stop();
    expect(JSON.parse(readFileSync(cp, "utf8"))).toEqual({ version: 1, partitions: { [path]: { line: "2", byte: 20 } } });
    const s2 = createFileSource(fileSourceConfigSchema.parse({ type: "file", path, checkpoint: cp, progress: "off" }));
    const h2 = handler();
    await s2.start(h2);
    await h2.done;
    await s2.stop();
    expect(h2.got.map((m) => [m.offset, m.value.toString()])).toEqual([
      [2n, '{"x":"c"}'],
      [3n, '{"x":"d"}'],
    ]);

    const scp = join(dir, "stdin-cp.json");
    writeFileSync(scp, JSON.stringify({ version: 1, partitions: { stdin: { line: "3", byte: null } } }));
    const s3 = createStdinSource(stdinSourceConfigSchema.parse({ type: "stdin", checkpoint: scp, progress: "off" }), { input: Readable.from([readFileSync(path)]) });
    const h3 = handler();
    await s3.start(h3);
    await h3.done;
    await s3.stop();
    expect(h3.got.map((m) => m.offset)).toEqual([3n]);
  });

  it("say which path is missing", () => {
    expect(() => createFileSource(fileSourceConfigSchema.parse({ type: "file", path: join(dir, "nope.jsonl") }))).toThrow(ConfigError);
  });

  it("progress counts records finished and attributed, with an ETA, not lines read", () => {
    let t = 0;
    let counts = { attributed: 0, done: 0 };
    const writes: string[] = [];
    const tty = { isTTY: true, write: (s: string) => writes.push(s) > 0 };
    const p = new ReplayProgress("logs.jsonl", { mode: "auto", stream: tty, totalBytes: 1000, counts: () => counts, now: () => t });
    // Half the bytes read in 1 s: ~40 records expected; 10 done so far.
    p.read(500, 20);
    t = 10_000;
    counts = { attributed: 4, done: 10 };
    expect(p.text()).toBe("logs.jsonl [#####...............]  25% attributed 4 records 10/~40 done 1.0 rec/s ETA 0:30 elapsed 0:10");
    p.read(1000, 40);
    p.readFinished();
    t = 20_000;
    counts = { attributed: 9, done: 40 };
    expect(p.text()).toBe("logs.jsonl [####################] 100% attributed 9 records 40/40 done 2.0 rec/s elapsed 0:20");
    p.finish();
    expect(writes.join("")).toContain("\r\x1b[2Klogs.jsonl [####################] 100%");
    expect(writes[writes.length - 1]).toBe("\n");
  });

  it("progress without a terminal prints summary lines on its interval, and nothing when off", async () => {
    const lines: string[] = [];
    const p = new ReplayProgress("stdin", { mode: "auto", stream: { isTTY: false, write: (s: string) => lines.push(s) > 0 }, counts: () => ({ attributed: 1, done: 2 }), intervalMs: 20 });
    p.start();
    await new Promise((r) => setTimeout(r, 90));
    p.finish();
    expect(lines.length).toBeGreaterThanOrEqual(2);
    for (const l of lines) expect(l).toMatch(/^stdin attributed 1 records 2 done [\d.]+ rec\/s elapsed 0:00\n$/);
    const off: string[] = [];
    const q = new ReplayProgress("x", { mode: "off", stream: { isTTY: true, write: (s: string) => off.push(s) > 0 }, intervalMs: 10 });
    q.start();
    q.finish();
    expect(off).toEqual([]);
  });

  it("the checkpoint is written atomically (no temporary file left)", async () => {
    const path = join(dir, "in.jsonl");
    const cp = join(dir, "sub/cp.json");
    writeFileSync(path, '{"a":1}\n');
    const s = createFileSource(fileSourceConfigSchema.parse({ type: "file", path, checkpoint: cp, progress: "off" }));
    const h = handler();
    await s.start(h);
    await h.done;
    await s.commit(new Map([[path, 1n]]));
    await s.stop();
    expect(existsSync(cp)).toBe(true);
    expect(existsSync(`${cp}.tmp-${process.pid}`)).toBe(false);
  });
});

describe("Kafka client config", () => {
  it("maps brokers, TLS files and SASL; a missing PEM file names its field", () => {
    const ca = join(dir, "ca.pem");
    writeFileSync(ca, "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n");
    const cfg = kafkaSourceConfigSchema.parse({
      type: "kafka",
      brokers: "b1:9093, b2:9093",
      topics: ["t"],
      group_id: "g",
      ssl: { ca_file: ca, reject_unauthorized: false },
      sasl: { mechanism: "scram-sha-512", username: "u", password: "p" },
    });
    const k = kafkaClientConfig(cfg, "source");
    expect(k.brokers).toEqual(["b1:9093", "b2:9093"]);
    expect(k.ssl).toMatchObject({ ca: [readFileSync(ca, "utf8")], rejectUnauthorized: false });
    expect(k.sasl).toEqual({ mechanism: "scram-sha-512", username: "u", password: "p" });
    expect(brokerList(["a:1", " "])).toEqual(["a:1"]);
    let err: unknown;
    try {
      kafkaClientConfig({ ...cfg, ssl: { ca_file: join(dir, "missing.pem"), reject_unauthorized: true } }, "source");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).path).toBe("source.ssl.ca_file");
  });

  it("rejects an unknown SASL mechanism at config time", () => {
    expect(kafkaSourceConfigSchema.safeParse({ type: "kafka", brokers: "b", topics: ["t"], group_id: "g", sasl: { mechanism: "gssapi", username: "u", password: "p" } }).success).toBe(false);
  });
});
