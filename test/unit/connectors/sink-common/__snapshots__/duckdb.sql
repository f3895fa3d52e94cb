CREATE TABLE IF NOT EXISTS "schema_migrations"
(
    "version" INTEGER PRIMARY KEY,
    "name" VARCHAR NOT NULL,
    "checksum" VARCHAR NOT NULL,
    "applied_at" TIMESTAMP NOT NULL,
    "server_version" VARCHAR NOT NULL,
    "engine_version" VARCHAR NOT NULL
);

CREATE TABLE IF NOT EXISTS "attributions"
(
    "attribution_id" VARCHAR NOT NULL,
    "schema_version" UTINYINT NOT NULL,
    "tenant_id" VARCHAR NOT NULL,
    "model" VARCHAR NOT NULL,
    "day" DATE NOT NULL,
    "event_time" TIMESTAMP NOT NULL,
    "record_time" TIMESTAMP,
    "created_at" TIMESTAMP NOT NULL,
    "started_at" TIMESTAMP NOT NULL,
    "duration_ms" DOUBLE NOT NULL,
    "record_id" VARCHAR,
    "trace_id" VARCHAR,
    "span_id" VARCHAR,
    "response_id" VARCHAR,
    "user_id" VARCHAR,
    "session_id" VARCHAR,
    "provider" VARCHAR,
    "logged_model" VARCHAR,
    "model_kind" VARCHAR NOT NULL,
    "scorer_id" VARCHAR NOT NULL,
    "method" VARCHAR NOT NULL,
    "mode" VARCHAR,
    "sampler" VARCHAR NOT NULL,
    "sampler_description" VARCHAR NOT NULL,
    "config_hash" VARCHAR NOT NULL,
    "engine_version" VARCHAR NOT NULL,
    "config_json" VARCHAR NOT NULL,
    "text_mode" VARCHAR NOT NULL,
    "prompt_text" VARCHAR,
    "completion_text" VARCHAR,
    "prompt_token_count" UINTEGER NOT NULL,
    "completion_token_count" UINTEGER NOT NULL,
    "prompt_token_ids" INTEGER[] NOT NULL,
    "prompt_token_text" VARCHAR[] NOT NULL,
    "prompt_token_start" UINTEGER[] NOT NULL,
    "prompt_token_end" UINTEGER[] NOT NULL,
    "prompt_token_special" UTINYINT[] NOT NULL,
    "prompt_token_protected" UTINYINT[] NOT NULL,
    "prompt_token_segment" VARCHAR[] NOT NULL,
    "prompt_token_message" INTEGER[] NOT NULL,
    "message_role" VARCHAR[] NOT NULL,
    "message_start" UINTEGER[] NOT NULL,
    "message_end" UINTEGER[] NOT NULL,
    "completion_token_ids" INTEGER[] NOT NULL,
    "completion_token_text" VARCHAR[] NOT NULL,
    "completion_token_start" UINTEGER[] NOT NULL,
    "completion_token_end" UINTEGER[] NOT NULL,
    "completion_token_special" UTINYINT[] NOT NULL,
    "importance" FLOAT[] NOT NULL,
    "target_index" UINTEGER[] NOT NULL,
    "target_p_original" DOUBLE[] NOT NULL,
    "target_converged" UTINYINT[] NOT NULL,
    "target_steps" UINTEGER[] NOT NULL,
    "matrix" FLOAT[][] NOT NULL,
    "matrix_rows_total" UINTEGER NOT NULL,
    "segment_name" VARCHAR[] NOT NULL,
    "segment_kind" VARCHAR[] NOT NULL,
    "segment_message" INTEGER[] NOT NULL,
    "segment_share" DOUBLE[] NOT NULL,
    "segment_tokens" UINTEGER[] NOT NULL,
    "converged" UTINYINT NOT NULL,
    "targets_converged" UINTEGER NOT NULL,
    "targets_total" UINTEGER NOT NULL,
    "probes_converged" UINTEGER NOT NULL,
    "probes_total" UINTEGER NOT NULL,
    "steps_total" UBIGINT NOT NULL,
    "steps_max" UINTEGER NOT NULL,
    "model_calls" UBIGINT NOT NULL,
    "sequences_evaluated" UBIGINT NOT NULL,
    "tokens_processed" UBIGINT NOT NULL,
    "faithfulness_computed" UTINYINT NOT NULL,
    "faithfulness_names" VARCHAR[] NOT NULL,
    "faithfulness_values" DOUBLE[] NOT NULL,
    "warnings" VARCHAR[] NOT NULL,
    "unit_level" VARCHAR NOT NULL,
    "stopping_rule" VARCHAR NOT NULL,
    PRIMARY KEY ("attribution_id")
);

CREATE TABLE IF NOT EXISTS "attribution_spans"
(
    "attribution_id" VARCHAR NOT NULL,
    "tenant_id" VARCHAR NOT NULL,
    "model" VARCHAR NOT NULL,
    "day" DATE NOT NULL,
    "event_time" TIMESTAMP NOT NULL,
    "logged_model" VARCHAR,
    "trace_id" VARCHAR,
    "response_id" VARCHAR,
    "user_id" VARCHAR,
    "session_id" VARCHAR,
    "rank" USMALLINT NOT NULL,
    "text" VARCHAR,
    "char_start" UINTEGER NOT NULL,
    "char_end" UINTEGER NOT NULL,
    "token_start" UINTEGER NOT NULL,
    "token_end" UINTEGER NOT NULL,
    "segment" VARCHAR,
    "role" VARCHAR,
    "message_index" INTEGER,
    "score" DOUBLE NOT NULL,
    "pii" VARCHAR[] NOT NULL,
    PRIMARY KEY ("attribution_id", "rank")
);

CREATE TABLE IF NOT EXISTS "attribution_segments"
(
    "attribution_id" VARCHAR NOT NULL,
    "tenant_id" VARCHAR NOT NULL,
    "model" VARCHAR NOT NULL,
    "day" DATE NOT NULL,
    "event_time" TIMESTAMP NOT NULL,
    "logged_model" VARCHAR,
    "engine_version" VARCHAR NOT NULL,
    "config_hash" VARCHAR NOT NULL,
    "ordinal" USMALLINT NOT NULL,
    "name" VARCHAR NOT NULL,
    "kind" VARCHAR NOT NULL,
    "message_index" INTEGER,
    "share" DOUBLE NOT NULL,
    "tokens" UINTEGER NOT NULL,
    PRIMARY KEY ("attribution_id", "ordinal")
);

CREATE TABLE IF NOT EXISTS "attribution_coverage"
(
    "source" VARCHAR NOT NULL,
    "source_partition" VARCHAR NOT NULL,
    "window_start" TIMESTAMP NOT NULL,
    "consumed" UBIGINT NOT NULL,
    "sampled" UBIGINT NOT NULL,
    "recorded_at" TIMESTAMP NOT NULL,
    PRIMARY KEY ("source", "source_partition", "window_start")
);

CREATE TABLE IF NOT EXISTS "attribution_spans__v3"
(
    "attribution_id" VARCHAR NOT NULL,
    "tenant_id" VARCHAR NOT NULL,
    "model" VARCHAR NOT NULL,
    "day" DATE NOT NULL,
    "event_time" TIMESTAMP NOT NULL,
    "logged_model" VARCHAR,
    "trace_id" VARCHAR,
    "response_id" VARCHAR,
    "user_id" VARCHAR,
    "session_id" VARCHAR,
    "rank" USMALLINT NOT NULL,
    "text" VARCHAR,
    "char_start" UINTEGER NOT NULL,
    "char_end" UINTEGER NOT NULL,
    "token_start" UINTEGER NOT NULL,
    "token_end" UINTEGER NOT NULL,
    "segment" VARCHAR,
    "role" VARCHAR,
    "message_index" INTEGER,
    "score" DOUBLE NOT NULL,
    "pii" VARCHAR[] NOT NULL
);

INSERT INTO "attribution_spans__v3" SELECT * FROM "attribution_spans";

DROP TABLE "attribution_spans";

ALTER TABLE "attribution_spans__v3" RENAME TO "attribution_spans";

CREATE TABLE IF NOT EXISTS "attribution_segments__v3"
(
    "attribution_id" VARCHAR NOT NULL,
    "tenant_id" VARCHAR NOT NULL,
    "model" VARCHAR NOT NULL,
    "day" DATE NOT NULL,
    "event_time" TIMESTAMP NOT NULL,
    "logged_model" VARCHAR,
    "engine_version" VARCHAR NOT NULL,
    "config_hash" VARCHAR NOT NULL,
    "ordinal" USMALLINT NOT NULL,
    "name" VARCHAR NOT NULL,
    "kind" VARCHAR NOT NULL,
    "message_index" INTEGER,
    "share" DOUBLE NOT NULL,
    "tokens" UINTEGER NOT NULL
);

INSERT INTO "attribution_segments__v3" SELECT * FROM "attribution_segments";

DROP TABLE "attribution_segments";

ALTER TABLE "attribution_segments__v3" RENAME TO "attribution_segments";

UPDATE "attribution_spans" SET attribution_id = m.new_id FROM (SELECT attribution_id AS old_id, tenant_id AS old_tenant, CASE WHEN tenant_id = '' OR record_id IS NULL THEN attribution_id ELSE substr(sha256(tenant_id || chr(0) || record_id || chr(0) || config_hash), 1, 32) END AS new_id FROM "attributions" WHERE tenant_id <> '' AND record_id IS NOT NULL) AS m WHERE "attribution_spans".attribution_id = m.old_id AND "attribution_spans".tenant_id = m.old_tenant;

UPDATE "attribution_segments" SET attribution_id = m.new_id FROM (SELECT attribution_id AS old_id, tenant_id AS old_tenant, CASE WHEN tenant_id = '' OR record_id IS NULL THEN attribution_id ELSE substr(sha256(tenant_id || chr(0) || record_id || chr(0) || config_hash), 1, 32) END AS new_id FROM "attributions" WHERE tenant_id <> '' AND record_id IS NOT NULL) AS m WHERE "attribution_segments".attribution_id = m.old_id AND "attribution_segments".tenant_id = m.old_tenant;

CREATE TABLE IF NOT EXISTS "attributions__v4"
(
    "attribution_id" VARCHAR NOT NULL,
    "schema_version" UTINYINT NOT NULL,
    "tenant_id" VARCHAR NOT NULL,
    "model" VARCHAR NOT NULL,
    "day" DATE NOT NULL,
    "event_time" TIMESTAMP NOT NULL,
    "record_time" TIMESTAMP,
    "created_at" TIMESTAMP NOT NULL,
    "started_at" TIMESTAMP NOT NULL,
    "duration_ms" DOUBLE NOT NULL,
    "record_id" VARCHAR,
    "trace_id" VARCHAR,
    "span_id" VARCHAR,
    "response_id" VARCHAR,
    "user_id" VARCHAR,
    "session_id" VARCHAR,
    "provider" VARCHAR,
    "logged_model" VARCHAR,
    "model_kind" VARCHAR NOT NULL,
    "scorer_id" VARCHAR NOT NULL,
    "method" VARCHAR NOT NULL,
    "mode" VARCHAR,
    "sampler" VARCHAR NOT NULL,
    "sampler_description" VARCHAR NOT NULL,
    "config_hash" VARCHAR NOT NULL,
    "engine_version" VARCHAR NOT NULL,
    "config_json" VARCHAR NOT NULL,
    "text_mode" VARCHAR NOT NULL,
    "prompt_text" VARCHAR,
    "completion_text" VARCHAR,
    "prompt_token_count" UINTEGER NOT NULL,
    "completion_token_count" UINTEGER NOT NULL,
    "prompt_token_ids" INTEGER[] NOT NULL,
    "prompt_token_text" VARCHAR[] NOT NULL,
    "prompt_token_start" UINTEGER[] NOT NULL,
    "prompt_token_end" UINTEGER[] NOT NULL,
    "prompt_token_special" UTINYINT[] NOT NULL,
    "prompt_token_protected" UTINYINT[] NOT NULL,
    "prompt_token_segment" VARCHAR[] NOT NULL,
    "prompt_token_message" INTEGER[] NOT NULL,
    "message_role" VARCHAR[] NOT NULL,
    "message_start" UINTEGER[] NOT NULL,
    "message_end" UINTEGER[] NOT NULL,
    "completion_token_ids" INTEGER[] NOT NULL,
    "completion_token_text" VARCHAR[] NOT NULL,
    "completion_token_start" UINTEGER[] NOT NULL,
    "completion_token_end" UINTEGER[] NOT NULL,
    "completion_token_special" UTINYINT[] NOT NULL,
    "importance" FLOAT[] NOT NULL,
    "target_index" UINTEGER[] NOT NULL,
    "target_p_original" DOUBLE[] NOT NULL,
    "target_converged" UTINYINT[] NOT NULL,
    "target_steps" UINTEGER[] NOT NULL,
    "matrix" FLOAT[][] NOT NULL,
    "matrix_rows_total" UINTEGER NOT NULL,
    "segment_name" VARCHAR[] NOT NULL,
    "segment_kind" VARCHAR[] NOT NULL,
    "segment_message" INTEGER[] NOT NULL,
    "segment_share" DOUBLE[] NOT NULL,
    "segment_tokens" UINTEGER[] NOT NULL,
    "converged" UTINYINT NOT NULL,
    "targets_converged" UINTEGER NOT NULL,
    "targets_total" UINTEGER NOT NULL,
    "probes_converged" UINTEGER NOT NULL,
    "probes_total" UINTEGER NOT NULL,
    "steps_total" UBIGINT NOT NULL,
    "steps_max" UINTEGER NOT NULL,
    "model_calls" UBIGINT NOT NULL,
    "sequences_evaluated" UBIGINT NOT NULL,
    "tokens_processed" UBIGINT NOT NULL,
    "faithfulness_computed" UTINYINT NOT NULL,
    "faithfulness_names" VARCHAR[] NOT NULL,
    "faithfulness_values" DOUBLE[] NOT NULL,
    "warnings" VARCHAR[] NOT NULL,
    PRIMARY KEY ("attribution_id")
);

INSERT INTO "attributions__v4" SELECT CASE WHEN tenant_id = '' OR record_id IS NULL THEN attribution_id ELSE substr(sha256(tenant_id || chr(0) || record_id || chr(0) || config_hash), 1, 32) END, "schema_version", "tenant_id", "model", "day", "event_time", "record_time", "created_at", "started_at", "duration_ms", "record_id", "trace_id", "span_id", "response_id", "user_id", "session_id", "provider", "logged_model", "model_kind", "scorer_id", "method", "mode", "sampler", "sampler_description", "config_hash", "engine_version", "config_json", "text_mode", "prompt_text", "completion_text", "prompt_token_count", "completion_token_count", "prompt_token_ids", "prompt_token_text", "prompt_token_start", "prompt_token_end", "prompt_token_special", "prompt_token_protected", "prompt_token_segment", "prompt_token_message", "message_role", "message_start", "message_end", "completion_token_ids", "completion_token_text", "completion_token_start", "completion_token_end", "completion_token_special", "importance", "target_index", "target_p_original", "target_converged", "target_steps", "matrix", "matrix_rows_total", "segment_name", "segment_kind", "segment_message", "segment_share", "segment_tokens", "converged", "targets_converged", "targets_total", "probes_converged", "probes_total", "steps_total", "steps_max", "model_calls", "sequences_evaluated", "tokens_processed", "faithfulness_computed", "faithfulness_names", "faithfulness_values", "warnings" FROM "attributions";

DROP TABLE "attributions";

ALTER TABLE "attributions__v4" RENAME TO "attributions";

ALTER TABLE "attributions" ADD COLUMN IF NOT EXISTS "unit_level" VARCHAR DEFAULT 'token';

ALTER TABLE "attributions" ADD COLUMN IF NOT EXISTS "stopping_rule" VARCHAR DEFAULT '';
