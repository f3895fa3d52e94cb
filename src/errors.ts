/**
 * The project's typed errors, in one place.
 *
 * Every error says *what* failed (an action, written as a gerund: "scoring batch",
 * "inserting into attributions"), *why* (a sentence a user can act on), and keeps the
 * underlying error as `cause`. `code` is stable and machine-readable: dead-letter headers,
 * metrics labels and tests match on it, never on message text.
 */

export type ErrorCode =
  | "config_invalid"
  | "record_invalid"
  | "input_rejected"
  | "tokenizer_failed"
  | "model_load_failed"
  | "scoring_failed"
  | "scorer_http"
  | "scorer_unsupported"
  | "scorer_mismatch"
  | "circuit_open"
  | "backoff"
  | "endpoint_unavailable"
  | "attribution_failed"
  | "sampler_failed"
  | "settings_mismatch"
  | "sink_failed"
  | "source_failed"
  | "service_failed"
  | "export_failed"
  | "not_connected"
  | "end_of_input"
  | "unknown_component";

export interface ReagentErrorOptions {
  /** The action that failed, as a gerund phrase: "loading tokenizer.json". */
  what: string;
  /** Why it failed, in words a user can act on. */
  why: string;
  cause?: unknown;
  /** Extra structured facts (never prompt text). */
  details?: Record<string, unknown>;
}

export class ReagentError extends Error {
  readonly code: ErrorCode;
  readonly what: string;
  readonly why: string;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, opts: ReagentErrorOptions) {
    super(`${opts.what}: ${opts.why}`, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
    this.what = opts.what;
    this.why = opts.why;
    this.details = opts.details ?? {};
  }

  /** A JSON-safe summary for logs and dead-letter headers. */
  toJSON(): Record<string, unknown> {
    return { name: this.name, code: this.code, what: this.what, why: this.why, details: this.details, cause: describeCause(this.cause) };
  }
}

/** A configuration value is missing or wrong; `path` names the field (`scorer.endpoint`). */
export class ConfigError extends ReagentError {
  readonly path: string;
  readonly expected: string | undefined;
  constructor(opts: ReagentErrorOptions & { path: string; expected?: string }) {
    super("config_invalid", opts);
    this.path = opts.path;
    this.expected = opts.expected;
  }
}

/**
 * An input record failed validation or mapping; it is dead-lettered, never dropped. `stage` says
 * whether its bytes did not parse at all (`parse`: not UTF-8, not JSON, too deep) or parsed but did
 * not map or validate (`validate`).
 */
export class RecordValidationError extends ReagentError {
  readonly issues: readonly { path: string; message: string }[];
  readonly stage: "parse" | "validate";
  constructor(opts: ReagentErrorOptions & { issues?: readonly { path: string; message: string }[]; stage?: "parse" | "validate" }) {
    super("record_invalid", opts);
    this.issues = opts.issues ?? [];
    this.stage = opts.stage ?? "validate";
  }
}

export class TokenizerError extends ReagentError {
  constructor(opts: ReagentErrorOptions) {
    super("tokenizer_failed", opts);
  }
}

export class OnnxModelError extends ReagentError {
  readonly modelPath: string;
  constructor(opts: ReagentErrorOptions & { modelPath: string }) {
    super("model_load_failed", opts);
    this.modelPath = opts.modelPath;
  }
}

/** A scorer could not score a batch (bad input, runtime failure). */
export class ScoringError extends ReagentError {
  constructor(opts: ReagentErrorOptions) {
    super("scoring_failed", opts);
  }
}

/** An HTTP scoring endpoint answered with an error status or an unusable body. */
export class ScorerHttpError extends ReagentError {
  readonly status: number | undefined;
  readonly endpoint: string;
  readonly bodySnippet: string | undefined;
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;
  constructor(
    opts: ReagentErrorOptions & { status?: number; endpoint: string; bodySnippet?: string; retryable: boolean; retryAfterMs?: number },
  ) {
    super("scorer_http", opts);
    this.status = opts.status;
    this.endpoint = opts.endpoint;
    this.bodySnippet = opts.bodySnippet;
    this.retryable = opts.retryable;
    this.retryAfterMs = opts.retryAfterMs;
  }
}

/** The endpoint cannot do what attribution needs (e.g. a chat-only API that cannot score a given continuation). */
export class ScorerUnsupportedError extends ReagentError {
  constructor(opts: ReagentErrorOptions) {
    super("scorer_unsupported", opts);
  }
}

/** The endpoint returned token ids that differ from what was sent: its scores would be for another text. */
export class ScorerMismatchError extends ReagentError {
  constructor(opts: ReagentErrorOptions) {
    super("scorer_mismatch", opts);
  }
}

/** The endpoint's circuit breaker is open: attribution pauses, the stream does not. */
export class CircuitOpenError extends ReagentError {
  readonly retryInMs: number;
  /**
   * The breaker is half-open and its probe call is in flight: the endpoint may well be back, this
   * call only has to wait for the probe. Not a sign the endpoint is unavailable (the pipeline must
   * not dead-letter or buffer-limit records for it).
   */
  readonly probeInFlight: boolean;
  constructor(opts: ReagentErrorOptions & { retryInMs: number; probeInFlight?: boolean }) {
    super("circuit_open", opts);
    this.retryInMs = opts.retryInMs;
    this.probeInFlight = opts.probeInFlight ?? false;
  }
}

/** Retry the same work after `waitMs`. */
export class BackoffError extends ReagentError {
  readonly waitMs: number;
  constructor(opts: ReagentErrorOptions & { waitMs: number }) {
    super("backoff", opts);
    this.waitMs = opts.waitMs;
  }
}

/**
 * A sampled record was not attributed because the scoring endpoint was unavailable (its breaker
 * open) and `pipeline.endpoint_unavailable` says to dead-letter it rather than wait: replay it
 * from the dead letters once the endpoint is back.
 */
export class EndpointUnavailableError extends ReagentError {
  constructor(opts: ReagentErrorOptions) {
    super("endpoint_unavailable", opts);
  }
}

export class AttributionError extends ReagentError {
  constructor(opts: ReagentErrorOptions) {
    super("attribution_failed", opts);
  }
}

/** The engine cannot attribute this input however often it tries (empty, too long, ids outside the vocabulary). */
export class InputRejectedError extends ReagentError {
  constructor(opts: ReagentErrorOptions) {
    super("input_rejected", opts);
  }
}

export class SamplerError extends ReagentError {
  constructor(opts: ReagentErrorOptions) {
    super("sampler_failed", opts);
  }
}

/** Two results produced with different settings were combined or compared; `keys` names what differs. */
export class SettingsMismatchError extends ReagentError {
  readonly keys: readonly string[];
  constructor(opts: ReagentErrorOptions & { keys: readonly string[] }) {
    super("settings_mismatch", opts);
    this.keys = opts.keys;
  }
}

export class SinkError extends ReagentError {
  readonly sink: string;
  readonly retryable: boolean;
  constructor(opts: ReagentErrorOptions & { sink: string; retryable: boolean }) {
    super("sink_failed", opts);
    this.sink = opts.sink;
    this.retryable = opts.retryable;
  }
}

export class SourceError extends ReagentError {
  readonly source: string;
  constructor(opts: ReagentErrorOptions & { source: string }) {
    super("source_failed", opts);
    this.source = opts.source;
  }
}

/** A local test service (Kafka, ClickHouse) could not be installed, started or reached. */
export class ServiceError extends ReagentError {
  readonly service: string;
  constructor(opts: ReagentErrorOptions & { service: string }) {
    super("service_failed", opts);
    this.service = opts.service;
  }
}

export class ExportError extends ReagentError {
  constructor(opts: ReagentErrorOptions) {
    super("export_failed", opts);
  }
}

/** The connection to an external system is gone; the runtime reconnects. */
export class NotConnectedError extends ReagentError {
  constructor(opts: ReagentErrorOptions) {
    super("not_connected", opts);
  }
}

/** A finite source is exhausted; the runtime drains and stops. */
export class EndOfInput extends ReagentError {
  constructor(opts: ReagentErrorOptions = { what: "reading source", why: "the input has no more records" }) {
    super("end_of_input", opts);
  }
}

/** A config names a component id that is not registered; the message lists the valid ids. */
export class UnknownComponentError extends ReagentError {
  constructor(kind: string, id: string, valid: readonly string[]) {
    super("unknown_component", {
      what: `resolving ${kind} "${id}"`,
      why: `no ${kind} is registered under that name; valid: ${valid.join(", ")}`,
      details: { kind, id, valid },
    });
  }
}

/**
 * What a retrier should do with a failure:
 * - `permanent`: the same work fails the same way every time (bad input, an endpoint that cannot do
 *   it, a store that refuses the value): give up at once;
 * - `transient`: it may work next time (a timeout, a store or broker that is down): retry with backoff;
 * - `retry_later`: not a failure of this work at all (an open circuit breaker, a requested backoff):
 *   put it back and wait `retryLaterMs`, counting no attempt.
 * Decided by the error's code (and the typed `retryable` flag of HTTP and sink errors), never by its
 * message. What is not a ReagentError is `unexpected`: retried like a transient failure, but only
 * up to the caller's `max_attempts` (a typed transient failure may be retried until shutdown where
 * holding the work is right, e.g. a store that is down).
 */
export type FailureKind = "permanent" | "transient" | "retry_later" | "unexpected";

const PERMANENT_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  "config_invalid",
  "record_invalid",
  "input_rejected",
  "scorer_unsupported",
  "scorer_mismatch",
  "settings_mismatch",
  "unknown_component",
]);

export function failureKind(err: unknown): FailureKind {
  if (!(err instanceof ReagentError)) return "unexpected";
  if (err.code === "circuit_open" || err.code === "backoff") return "retry_later";
  if (PERMANENT_CODES.has(err.code)) return "permanent";
  if (err instanceof ScorerHttpError || err instanceof SinkError) return err.retryable ? "transient" : "permanent";
  return "transient";
}

/** How long to wait before retrying a `retry_later` failure; undefined for any other. */
export function retryLaterMs(err: unknown): number | undefined {
  if (err instanceof CircuitOpenError) return Math.max(1, err.retryInMs);
  if (err instanceof BackoffError) return Math.max(1, err.waitMs);
  return undefined;
}

/** The stable code of any thrown value (`unexpected` for what is not a ReagentError). */
export function errorCode(err: unknown): string {
  return err instanceof ReagentError ? err.code : "unexpected";
}

/** Short, JSON-safe description of any thrown value (for logs and headers). */
export function describeCause(cause: unknown): string | undefined {
  if (cause === undefined) return undefined;
  if (cause instanceof Error) return `${cause.name}: ${cause.message}`;
  if (typeof cause === "string") return cause;
  try {
    return JSON.stringify(cause);
  } catch {
    return Object.prototype.toString.call(cause);
  }
}

/** The message of any thrown value. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function isReagentError(err: unknown): err is ReagentError {
  return err instanceof ReagentError;
}
