/**
 * What the pipeline asks of attribution: a result per record, keyed deterministically. The
 * engine adapter passes the record id as `context.record_id` (and the tenant), so the attribution
 * id (hash of tenant, record id and engine config hash) is the same on every redelivery and
 * replay, and sinks deduplicate on it.
 */
import type { AttributionResult, RecordContext } from "../../schemas/attribution-result.js";
import type { LlmLogRecord } from "../../schemas/llm-log-record.js";
import type { AttributionEngine } from "../attribution/engine.js";
import type { ChatMessage } from "../text/chat-template.js";

export interface RecordAttributor {
  /** The attribution model's name (metrics label). */
  readonly model: string;
  /** The id the result for `record` will have. */
  attributionId(record: LlmLogRecord): string;
  attribute(record: LlmLogRecord, signal: AbortSignal): Promise<AttributionResult>;
}

/** The result context block for a record. */
export function recordContext(r: LlmLogRecord): RecordContext {
  return {
    record_id: r.id,
    trace_id: r.trace_id,
    span_id: r.span_id,
    response_id: r.response_id,
    tenant_id: r.tenant_id,
    user_id: r.user_id,
    session_id: r.session_id,
    provider: r.provider,
    logged_model: r.model,
    record_timestamp: r.timestamp,
  };
}

export interface EngineAttributorOptions {
  /** Attribute the logged completion token ids (only when the log came from the same tokenizer). */
  readonly useLoggedTokenIds?: boolean;
}

export class EngineAttributor implements RecordAttributor {
  readonly model: string;
  constructor(
    private readonly engine: AttributionEngine,
    private readonly opts: EngineAttributorOptions = {},
  ) {
    this.model = engine.model.scorer.info.model;
  }

  attributionId(record: LlmLogRecord): string {
    return this.engine.attributionId(record.id, record.tenant_id);
  }

  attribute(record: LlmLogRecord, signal: AbortSignal): Promise<AttributionResult> {
    const prompt: string | ChatMessage[] = typeof record.prompt === "string" ? record.prompt : record.prompt.map((m) => ({ role: m.role, content: m.content, ...(m.name ? { name: m.name } : {}) }));
    const ids = this.opts.useLoggedTokenIds ? record.completion.token_ids : undefined;
    return this.engine.attribute(
      { prompt, completion: record.completion.text, ...(ids ? { completionIds: ids } : {}), context: recordContext(record) },
      { signal },
    );
  }
}
