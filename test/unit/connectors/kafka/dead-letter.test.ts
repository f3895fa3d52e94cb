import { describe, expect, it } from "vitest";
import { kafkaErrorType, recordBytes } from "../../../../connectors/kafka/dead-letter.js";

describe("Kafka dead letters: classifying broker answers and sizing records", () => {
  it("finds the kafkajs error type through wrappers", () => {
    const protocol = Object.assign(new Error("The request included a message larger than the max message size"), { type: "MESSAGE_TOO_LARGE" });
    expect(kafkaErrorType(protocol)).toBe("MESSAGE_TOO_LARGE");
    expect(kafkaErrorType(Object.assign(new Error("retries exceeded"), { originalError: protocol }))).toBe("MESSAGE_TOO_LARGE");
    expect(kafkaErrorType(new Error("wrapped", { cause: protocol }))).toBe("MESSAGE_TOO_LARGE");
    expect(kafkaErrorType(Object.assign(new Error("aggregate"), { errors: [new Error("x"), protocol] }))).toBe("MESSAGE_TOO_LARGE");
    expect(kafkaErrorType(new Error("Connection error: ECONNREFUSED"))).toBeUndefined();
  });

  it("counts key, value and headers", () => {
    const base = recordBytes({ key: null, value: Buffer.alloc(0) });
    expect(recordBytes({ key: Buffer.alloc(10), value: Buffer.alloc(1000), headers: { abc: "12345" } })).toBe(base + 10 + 1000 + 3 + 5 + 4);
  });
});
