CREATE TABLE IF NOT EXISTS `audit`.`reagent_schema_migrations`
(
    `version` UInt32,
    `name` String,
    `checksum` String,
    `applied_at` DateTime('UTC'),
    `server_version` String,
    `engine_version` String
)
ENGINE = ReplacingMergeTree()
ORDER BY (`version`);

CREATE TABLE IF NOT EXISTS `audit`.`reagent_attributions`
(
    `attribution_id` String COMMENT 'Deterministic hash of tenant, record id and config hash; redelivery gives the same id',
    `schema_version` UInt8 COMMENT 'AttributionResult schema version',
    `tenant_id` String COMMENT 'Tenant of the logged call; \'\' when the record had none',
    `model` String COMMENT 'Model that attributed (the scorer\'s model name)',
    `day` Date COMMENT 'UTC day of event_time',
    `event_time` DateTime('UTC') COMMENT 'Time of the logged call (record_time), else created_at',
    `record_time` Nullable(DateTime('UTC')) COMMENT 'Time of the logged call when the record had a valid one',
    `created_at` DateTime('UTC') COMMENT 'When the attribution finished',
    `started_at` DateTime('UTC') COMMENT 'When the attribution started',
    `duration_ms` Float64 COMMENT 'Attribution wall time, ms',
    `record_id` Nullable(String) COMMENT 'Id of the logged record',
    `trace_id` Nullable(String) COMMENT 'W3C trace id of the logged call',
    `span_id` Nullable(String) COMMENT 'W3C span id of the logged call',
    `response_id` Nullable(String) COMMENT 'Provider response id (gen_ai.response.id)',
    `user_id` Nullable(String) COMMENT 'User of the logged call',
    `session_id` Nullable(String) COMMENT 'Session or conversation id',
    `provider` Nullable(String) COMMENT 'Provider in the logged record',
    `logged_model` Nullable(String) COMMENT 'Model name in the logged record',
    `model_kind` String COMMENT 'Scorer kind (onnx, http, …)',
    `scorer_id` String COMMENT 'Scorer id',
    `method` String COMMENT 'reagent | loo | random',
    `mode` Nullable(String) COMMENT 'ReAGent mode (joint | reference); NULL for baselines',
    `sampler` String COMMENT 'Replacement sampler id',
    `sampler_description` String COMMENT 'What the sampler draws',
    `config_hash` String COMMENT 'Hash of the engine settings',
    `engine_version` String COMMENT 'reagent-stream version that attributed',
    `config_json` String COMMENT 'The engine settings as JSON',
    `text_mode` String COMMENT 'store_text the row was written with: full | redacted | none',
    `prompt_text` Nullable(String) COMMENT 'Rendered prompt (masked when redacted); NULL when store_text is none',
    `completion_text` Nullable(String) COMMENT 'Completion (masked when redacted); NULL when store_text is none',
    `prompt_token_count` UInt32 COMMENT 'Prompt tokens',
    `completion_token_count` UInt32 COMMENT 'Completion tokens',
    `prompt_token_ids` Array(Int32) COMMENT 'Prompt token ids (store_text full only, else empty)',
    `prompt_token_text` Array(String) COMMENT 'Prompt token texts (masked when redacted; empty when none)',
    `prompt_token_start` Array(UInt32) COMMENT 'Character offset of each prompt token in the prompt (UTF-16 units)',
    `prompt_token_end` Array(UInt32) COMMENT 'End offset of each prompt token',
    `prompt_token_special` Array(UInt8) COMMENT '1 for BOS/EOS/added special tokens',
    `prompt_token_protected` Array(UInt8) COMMENT '1 for tokens never replaced (special, chat template)',
    `prompt_token_segment` Array(Nullable(String)) COMMENT 'Segment, role or \'prompt\' of each token',
    `prompt_token_message` Array(Nullable(Int32)) COMMENT 'Chat message index of each token',
    `message_role` Array(String) COMMENT 'Role of each chat message',
    `message_start` Array(UInt32) COMMENT 'Character offset of each message\'s content',
    `message_end` Array(UInt32) COMMENT 'End offset of each message\'s content',
    `completion_token_ids` Array(Int32) COMMENT 'Completion token ids (store_text full only)',
    `completion_token_text` Array(String) COMMENT 'Completion token texts (masked when redacted; empty when none)',
    `completion_token_start` Array(UInt32) COMMENT 'Character offset of each completion token',
    `completion_token_end` Array(UInt32) COMMENT 'End offset of each completion token',
    `completion_token_special` Array(UInt8) COMMENT '1 for special completion tokens',
    `importance` Array(Float32) COMMENT 'Sequence importance per prompt token; sums to 1',
    `target_index` Array(UInt32) COMMENT 'Completion index of each attributed target',
    `target_p_original` Array(Float64) COMMENT 'p(target | unperturbed context) per target',
    `target_converged` Array(UInt8) COMMENT '1 when at least one probe of the target stopped',
    `target_steps` Array(UInt32) COMMENT 'Steps spent per target',
    `matrix` Array(Array(Float32)) COMMENT 'Per-target importance rows (prompt + earlier completion tokens), the first ones up to max_matrix_cells',
    `matrix_rows_total` UInt32 COMMENT 'Targets attributed; more than length(matrix) when the matrix was capped',
    `segment_name` Array(String) COMMENT 'Segment names (rules, roles, messages, prompt)',
    `segment_kind` Array(String) COMMENT 'rule | role | message | prompt | template',
    `segment_message` Array(Nullable(Int32)) COMMENT 'Message index of message segments',
    `segment_share` Array(Float64) COMMENT 'Share of the sequence importance per segment',
    `segment_tokens` Array(UInt32) COMMENT 'Tokens per segment',
    `converged` UInt8 COMMENT '1 when every target had a converged probe',
    `targets_converged` UInt32 COMMENT 'Targets with a converged probe',
    `targets_total` UInt32 COMMENT 'Targets attributed',
    `probes_converged` UInt32 COMMENT 'Probes that stopped',
    `probes_total` UInt32 COMMENT 'Probes run',
    `steps_total` UInt64 COMMENT 'Probe steps in all',
    `steps_max` UInt32 COMMENT 'Most steps of one probe',
    `model_calls` UInt64 COMMENT 'Scorer calls',
    `sequences_evaluated` UInt64 COMMENT 'Sequences scored',
    `tokens_processed` UInt64 COMMENT 'Tokens scored',
    `faithfulness_computed` UInt8 COMMENT '1 when faithfulness metrics were computed (then the arrays below hold them)',
    `faithfulness_names` Array(String) COMMENT 'Faithfulness metric names, sorted',
    `faithfulness_values` Array(Float64) COMMENT 'Faithfulness metric values, in the order of faithfulness_names',
    `warnings` Array(String) COMMENT 'Engine warnings',
    `unit_level` String COMMENT 'What one attribution feature was: token (as published), or a sentence, paragraph, message or segment replaced as a whole',
    `stopping_rule` String COMMENT 'ReAGent stopping rule that ran (probe, ensemble, restore); \'\' for other methods'
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(assumeNotNull(`record_time`))
ORDER BY (`tenant_id`, `model`, `attribution_id`)
SETTINGS index_granularity = 8192;

CREATE TABLE IF NOT EXISTS `audit`.`reagent_attribution_spans`
(
    `attribution_id` String COMMENT 'The attribution this row belongs to',
    `tenant_id` String COMMENT 'Tenant of the logged call; \'\' when the record had none',
    `model` String COMMENT 'Model that attributed (the scorer\'s model name)',
    `day` Date COMMENT 'UTC day of event_time',
    `event_time` DateTime('UTC') COMMENT 'Time of the logged call (record timestamp, else created_at)',
    `logged_model` Nullable(String) COMMENT 'Model name in the logged record',
    `trace_id` Nullable(String) COMMENT 'W3C trace id of the logged call',
    `response_id` Nullable(String) COMMENT 'Provider response id',
    `user_id` Nullable(String) COMMENT 'User of the logged call',
    `session_id` Nullable(String) COMMENT 'Session id',
    `rank` UInt16 COMMENT '1 = the span with the highest score',
    `text` Nullable(String) COMMENT 'Span text as configured by store_text (masked when redacted); NULL when none',
    `char_start` UInt32 COMMENT 'Character range in the prompt (UTF-16 units)',
    `char_end` UInt32 COMMENT 'End of the character range',
    `token_start` UInt32 COMMENT 'Token range in the prompt, end exclusive',
    `token_end` UInt32 COMMENT 'End of the token range',
    `segment` Nullable(String) COMMENT 'Segment of the span',
    `role` Nullable(String) COMMENT 'Chat role of the span\'s message',
    `message_index` Nullable(Int32) COMMENT 'Chat message index',
    `score` Float64 COMMENT 'Summed sequence importance of the span\'s tokens',
    `pii` Array(String) COMMENT 'Redaction kinds (email, secret, number) found in the span\'s original text, whatever store_text is'
)
ENGINE = ReplacingMergeTree()
PARTITION BY tuple()
ORDER BY (`tenant_id`, `model`, `attribution_id`, `rank`)
SETTINGS index_granularity = 8192;

CREATE TABLE IF NOT EXISTS `audit`.`reagent_attribution_segments`
(
    `attribution_id` String COMMENT 'The attribution this row belongs to',
    `tenant_id` String COMMENT 'Tenant of the logged call; \'\' when the record had none',
    `model` String COMMENT 'Model that attributed (the scorer\'s model name)',
    `day` Date COMMENT 'UTC day of event_time',
    `event_time` DateTime('UTC') COMMENT 'Time of the logged call (record timestamp, else created_at)',
    `logged_model` Nullable(String) COMMENT 'Model name in the logged record',
    `engine_version` String COMMENT 'reagent-stream version that attributed',
    `config_hash` String COMMENT 'Hash of the engine settings',
    `ordinal` UInt16 COMMENT 'Position of the segment in the result',
    `name` String COMMENT 'Segment name: a rule (retrieved_context), a role (system, user, tool), a message (user#1), prompt',
    `kind` String COMMENT 'rule | role | message | prompt | template',
    `message_index` Nullable(Int32) COMMENT 'Message index for message segments',
    `share` Float64 COMMENT 'Share of the sequence importance (0..1)',
    `tokens` UInt32 COMMENT 'Tokens in the segment'
)
ENGINE = ReplacingMergeTree()
PARTITION BY tuple()
ORDER BY (`tenant_id`, `model`, `attribution_id`, `ordinal`)
SETTINGS index_granularity = 8192;

CREATE TABLE IF NOT EXISTS `audit`.`reagent_attribution_coverage`
(
    `source` String COMMENT 'Source name (a topic, a file)',
    `source_partition` String COMMENT 'Source partition; \'\' when the source has none',
    `window_start` DateTime('UTC') COMMENT 'Start of the counting window',
    `consumed` UInt64 COMMENT 'Records consumed in the window so far',
    `sampled` UInt64 COMMENT 'Records sampled for attribution in the window so far',
    `recorded_at` DateTime('UTC') COMMENT 'When the counts were recorded'
)
ENGINE = ReplacingMergeTree(`recorded_at`)
PARTITION BY toYYYYMM(`window_start`)
ORDER BY (`source`, `source_partition`, `window_start`)
SETTINGS index_granularity = 8192;
