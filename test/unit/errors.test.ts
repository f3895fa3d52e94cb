import { describe, expect, it } from "vitest";
import {
  ConfigError,
  EndOfInput,
  ReagentError,
  ServiceError,
  SinkError,
  UnknownComponentError,
  describeCause,
  errorMessage,
  isReagentError,
} from "../../src/errors.js";

describe("typed errors", () => {
  it("carry a stable code and a what/why message", () => {
    const err = new ServiceError({ service: "kafka", what: "starting Kafka", why: "Java is not installed" });
    expect(err).toBeInstanceOf(ReagentError);
    expect(err).toBeInstanceOf(Error);
    expect(err.code).toBe("service_failed");
    expect(err.name).toBe("ServiceError");
    expect(err.service).toBe("kafka");
    expect(err.what).toBe("starting Kafka");
    expect(err.why).toBe("Java is not installed");
    expect(err.message).toBe("starting Kafka: Java is not installed");
    expect(err.details).toEqual({});
  });

  it("keep the underlying error as cause, and no cause when none is given", () => {
    const root = new TypeError("boom");
    const err = new SinkError({ sink: "clickhouse", retryable: true, what: "inserting into attributions", why: "the server is down", cause: root });
    expect(err.cause).toBe(root);
    expect(err.retryable).toBe(true);
    expect("cause" in new EndOfInput()).toBe(false);
  });

  it("serialise to JSON with code, what, why, details and a described cause", () => {
    const err = new ConfigError({
      path: "scorer.endpoint",
      expected: "an http(s) URL",
      what: "reading config",
      why: "scorer.endpoint is missing",
      details: { file: "reagent.yaml" },
      cause: new Error("inner"),
    });
    const json = err.toJSON();
    expect(json).toEqual({
      name: "ConfigError",
      code: "config_invalid",
      what: "reading config",
      why: "scorer.endpoint is missing",
      details: { file: "reagent.yaml" },
      cause: "Error: inner",
    });
    expect(JSON.parse(JSON.stringify(err))).toEqual(json);
    expect(err.path).toBe("scorer.endpoint");
    expect(err.expected).toBe("an http(s) URL");
  });

  it("list the valid ids of an unknown component", () => {
    const err = new UnknownComponentError("scorer", "gpt", ["onnx", "http"]);
    expect(err.code).toBe("unknown_component");
    expect(err.message).toBe('resolving scorer "gpt": no scorer is registered under that name; valid: onnx, http');
    expect(err.details).toEqual({ kind: "scorer", id: "gpt", valid: ["onnx", "http"] });
  });

  it("describe any thrown value", () => {
    expect(describeCause(undefined)).toBeUndefined();
    expect(describeCause("text")).toBe("text");
    expect(describeCause({ a: 1 })).toBe('{"a":1}');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(describeCause(cyclic)).toBe("[object Object]");
    expect(errorMessage(new Error("m"))).toBe("m");
    expect(errorMessage(42)).toBe("42");
    expect(isReagentError(new EndOfInput())).toBe(true);
    expect(isReagentError(new Error("x"))).toBe(false);
  });
});
