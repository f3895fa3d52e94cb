import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ClickHouseSink } from "../../connectors/clickhouse/sink.js";
import { JsonlDeadLetters, jsonlDeadLetterConfigSchema } from "../../connectors/file/dead-letters.js";
import { applyPayloadPolicy, redactPayload } from "../../connectors/dead-letter/payload.js";
import { kafkaDeadLetterConfigSchema } from "../../connectors/kafka/config.js";
import { DLQ_HEADERS, buildDeadLetter, deadLetterHeaders } from "../../src/pipeline/dead-letter.js";
import { describeConfig, parseWorkerConfig } from "../../src/app/config.js";
import { redactCredentials, redactUrl } from "../../src/redact.js";

describe("credential redaction (issue 16, item 5)", () => {
  it("masks the password and secret query values of a URL, keeping the rest", () => {
    expect(redactUrl("http://reader:s3cret@ch.internal:8123")).toBe("http://reader:***@ch.internal:8123");
    expect(redactUrl("https://gw.example.com/v1?api_key=abc&model=x")).toBe("https://gw.example.com/v1?api_key=***&model=x");
    expect(redactUrl("http://127.0.0.1:8123")).toBe("http://127.0.0.1:8123");
    expect(redactUrl("http://127.0.0.1:8123/")).toBe("http://127.0.0.1:8123/");
    expect(redactUrl("not a url user:pw@x")).toBe("not a url user:pw@x");
    expect(redactCredentials("connect to https://bob:hunter2@h:1 failed; Bearer abc.def")).toBe("connect to https://bob:***@h:1 failed; Bearer ***");
  });

  it("config check shows no password of a ClickHouse or scorer URL", () => {
    const cfg = parseWorkerConfig(
      `source: { type: stdin }
scorer: { kind: vllm, url: "https://bob:hunter2@gpu.internal:8000", model: m, tokenizer: models/tiny-lm }
sinks:
  - { type: clickhouse, url: "http://reader:s3cret@ch.internal:8123", database: audit }
`,
      "t",
      {},
    );
    const text = describeConfig(cfg);
    expect(text).toContain("ch.internal:8123");
    expect(text).toContain("gpu.internal:8000");
    expect(text).not.toContain("s3cret");
    expect(text).not.toContain("hunter2");
  });

  it("a ClickHouse error names the server without its password", async () => {
    const sink = new ClickHouseSink({ type: "clickhouse", url: "http://reader:s3cret@127.0.0.1:1", database: "x", request_timeout_ms: 2000, retry: { max_attempts: 1, initial_backoff_ms: 1, max_backoff_ms: 1 } });
    const err = (await sink.start().catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(Error);
    expect(`${err.message} ${JSON.stringify(err)}`).not.toContain("s3cret");
    expect(err.message).toContain("127.0.0.1:1");
  });
});

describe("dead-letter payload policy (issue 16, item 5)", () => {
  const letterFor = (value: string) =>
    buildDeadLetter({ partition: "p", offset: 3n, key: null, value: Buffer.from(value), headers: {}, timestamp: null }, "attribute", new Error("x"), 3, "r-1");
  const record = JSON.stringify({ id: "r-1", prompt: "mail me at ann@example.com, card 4111 1111 1111 1111", completion: " ok", params: { max_tokens: 2048 } });

  it("full keeps the bytes; redacted masks string values and keeps valid JSON; none keeps no payload", () => {
    expect(applyPayloadPolicy(letterFor(record), "full").message.value.toString()).toBe(record);
    const red = applyPayloadPolicy(letterFor(record), "redacted");
    const doc = JSON.parse(red.message.value.toString()) as { id: string; prompt: string; params: { max_tokens: number } };
    expect(doc.prompt).not.toContain("ann@example.com");
    expect(doc.prompt).not.toContain("4111");
    expect(doc.prompt).toHaveLength((JSON.parse(record) as { prompt: string }).prompt.length);
    expect(doc.params.max_tokens).toBe(2048);
    expect(deadLetterHeaders(red)[DLQ_HEADERS.payload]).toBe("redacted");
    expect(redactPayload(Buffer.from("not json: bob@example.org")).toString()).toBe("not json: ***************");
    const none = applyPayloadPolicy(letterFor(record), "none");
    expect(none.message.value.length).toBe(0);
    expect(deadLetterHeaders(none)[DLQ_HEADERS.recordId]).toBe("r-1");
    expect(deadLetterHeaders(none)[DLQ_HEADERS.payload]).toBe("none");
  });

  it("is a setting of the JSONL (and Kafka) dead-letter route", async () => {
    const dir = mkdtempSync(join(tmpdir(), "reagent-dlq-payload-"));
    try {
      const path = join(dir, "dlq.jsonl");
      const dlq = new JsonlDeadLetters(jsonlDeadLetterConfigSchema.parse({ type: "jsonl", path, payload: "redacted" }));
      await dlq.start();
      await dlq.write(letterFor(record));
      await dlq.close();
      const line = JSON.parse(readFileSync(path, "utf8")) as { value: string; headers: Record<string, string> };
      expect(line.value).not.toContain("ann@example.com");
      expect(line.headers[DLQ_HEADERS.payload]).toBe("redacted");
      expect(kafkaDeadLetterConfigSchema.parse({ type: "kafka", topic: "t", payload: "none" }).payload).toBe("none");
      expect(kafkaDeadLetterConfigSchema.parse({ type: "kafka", topic: "t" }).payload).toBe("full");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
