/**
 * JSON over HTTP for the scorers: one place that sends requests with credentials, turns every
 * failure into a typed ScorerHttpError (status, endpoint, body snippet, retryable, Retry-After),
 * and keeps secrets out of messages. Limits, retries and the breaker live in guard.ts.
 */
import { redactUrl } from "../../redact.js";
import { ScorerHttpError, errorMessage } from "../../errors.js";
import { parseRetryAfter } from "./guard.js";

export interface TransportConfig {
  /** Base URL: scheme, host, port and an optional path prefix (no trailing slash). */
  readonly baseUrl: string;
  /** Sent as `Authorization: Bearer …`; never logged, redacted from every message. */
  readonly apiKey?: string | undefined;
  /**
   * For servers whose 5xx answers are final for the request that caused them (llama-cpp-python
   * answers every Python exception with 500): given the status and body, a sentence saying so,
   * or undefined for a 5xx that is worth retrying. Final answers are not retried and do not move
   * the breaker (the server answered, so it is up).
   */
  readonly finalServerError?: ((status: number, body: string) => string | undefined) | undefined;
}

const SNIPPET = 300;

/** Statuses worth retrying: overload, gateway trouble, timeouts at proxies. */
function retryableStatus(status: number): boolean {
  return status === 408 || status === 425 || status === 429 || (status >= 500 && status !== 501 && status !== 505);
}

function statusHint(status: number): string {
  if (status === 401 || status === 403) return "the server refused the credentials; set api_key_env to an environment variable holding a valid key";
  if (status === 404) return "no such route or model on this server; check the URL, the server kind and the model name";
  if (status === 413) return "the request is too large for the server; lower max_batch";
  if (status === 429) return "the server is rate limiting or overloaded";
  if (status >= 500) return "the server failed";
  return "the server rejected the request";
}

/** Base URL with any user:password removed (errors and events name the server, never its credentials). */
export function endpointUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = "";
    u.password = "";
    return u.toString().replace(/\/$/, "");
  } catch {
    return redactUrl(url);
  }
}

export class HttpTransport {
  /** The base URL as shown in errors and events (no credentials). */
  readonly endpoint: string;
  private readonly baseUrl: string;
  private readonly secrets: string[];
  private readonly headers: Record<string, string>;
  private readonly finalServerError: TransportConfig["finalServerError"];

  constructor(cfg: TransportConfig) {
    this.finalServerError = cfg.finalServerError;
    this.baseUrl = cfg.baseUrl.replace(/\/+$/, "");
    this.endpoint = endpointUrl(this.baseUrl);
    this.secrets = [];
    this.headers = { "content-type": "application/json", accept: "application/json" };
    if (cfg.apiKey !== undefined && cfg.apiKey !== "") {
      this.headers.authorization = `Bearer ${cfg.apiKey}`;
      this.secrets.push(cfg.apiKey);
    }
    try {
      const u = new URL(this.baseUrl);
      if (u.password !== "") this.secrets.push(decodeURIComponent(u.password));
    } catch {
      // validated by the config schema
    }
  }

  /** Replace every secret (and any bearer token) in `text`. */
  redact(text: string): string {
    let out = text;
    for (const s of this.secrets) if (s.length > 0) out = out.split(s).join("[redacted]");
    return out.replace(/Bearer\s+[A-Za-z0-9._~+/=-]+/g, "Bearer [redacted]");
  }

  url(path: string): string {
    return `${this.baseUrl}${path}`;
  }

  /** POST a JSON body; resolves with the parsed JSON of a 2xx answer. */
  postJson(path: string, body: unknown, signal?: AbortSignal): Promise<unknown> {
    return this.request("POST", path, JSON.stringify(body), signal);
  }

  /** GET; resolves with the parsed JSON of a 2xx answer. */
  getJson(path: string, signal?: AbortSignal): Promise<unknown> {
    return this.request("GET", path, undefined, signal);
  }

  private async request(method: "GET" | "POST", path: string, body: string | undefined, signal?: AbortSignal): Promise<unknown> {
    const what = `calling ${method} ${path} on ${this.endpoint}`;
    let res: Response;
    try {
      res = await fetch(this.url(path), { method, headers: this.headers, ...(body === undefined ? {} : { body }), ...(signal ? { signal } : {}) });
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      throw new ScorerHttpError({
        what,
        why: `could not reach the server (${this.redact(networkReason(err))})`,
        endpoint: this.endpoint,
        retryable: true,
        details: { kind: "network" },
        cause: this.redact(errorMessage(err)),
      });
    }
    let text: string;
    try {
      text = await res.text();
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      throw new ScorerHttpError({
        what,
        why: `the connection broke while reading the answer (${this.redact(networkReason(err))})`,
        status: res.status,
        endpoint: this.endpoint,
        retryable: true,
        details: { kind: "network" },
      });
    }
    const snippet = this.redact(text.slice(0, SNIPPET));
    if (!res.ok) {
      const retryAfterMs = parseRetryAfter(res.headers.get("retry-after"));
      const final = res.status >= 500 ? this.finalServerError?.(res.status, text) : undefined;
      // A final 5xx is this request's own failure: counted as a rejected request, like a 4xx.
      const kind = res.status === 429 ? "rate_limited" : res.status >= 500 && final === undefined ? "server_error" : "client_error";
      throw new ScorerHttpError({
        what,
        why: `HTTP ${res.status}: ${final ?? statusHint(res.status)}${snippet ? `: ${oneLine(snippet)}` : ""}`,
        status: res.status,
        endpoint: this.endpoint,
        bodySnippet: snippet,
        retryable: final === undefined && retryableStatus(res.status),
        details: { kind },
        ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      });
    }
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      throw new ScorerHttpError({
        what,
        why: `the answer is not valid JSON (${text.length === 0 ? "empty body" : `${text.length} bytes, possibly truncated`}): ${oneLine(snippet.slice(0, 120))}`,
        status: res.status,
        endpoint: this.endpoint,
        bodySnippet: snippet,
        retryable: true,
        details: { kind: "malformed" },
        cause: errorMessage(err),
      });
    }
  }
}

function oneLine(s: string): string {
  return s.replace(/\s+/g, " ").trim();
}

/** The most specific reason in a fetch failure (undici hides it in `cause`). */
function networkReason(err: unknown): string {
  if (err instanceof Error && err.cause instanceof Error) {
    const code = (err.cause as Error & { code?: string }).code;
    return code ? `${code}: ${err.cause.message}` : err.cause.message;
  }
  return errorMessage(err);
}
