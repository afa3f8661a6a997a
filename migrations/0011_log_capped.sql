-- SPDX-License-Identifier: Apache-2.0
-- What an operator's cap on uploaded output (weir-worker --max-log-lines,
-- --max-log-bytes) cut from an attempt's log, as the worker reported it
-- with its last log batch: {lines_total, lines_kept, bytes_total,
-- bytes_kept}; NULL when nothing was cut.
ALTER TABLE attempts ADD COLUMN log_capped jsonb
    CHECK (log_capped IS NULL OR jsonb_typeof(log_capped) = 'object');
