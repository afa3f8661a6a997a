-- SPDX-License-Identifier: Apache-2.0
-- A DAG whose file is gone from the DAGs folder (docs/dag-format.md,
-- "When a DAG's file is gone").
--
-- dags.file_missing: the file of a DAG of origin 'file' was not found by
-- the last scan or the watcher saw it removed. Such a DAG keeps its
-- versions and runs, starts no run and fires no trigger; a file that
-- comes back clears it.
-- dags.deleted_at: such a DAG was deleted while keeping its runs (which
-- refer to its versions): the row stays, hidden from every listing,
-- until its file comes back or it is deleted with its runs.
ALTER TABLE dags ADD COLUMN file_missing boolean NOT NULL DEFAULT false;
ALTER TABLE dags ADD COLUMN deleted_at timestamptz;
ALTER TABLE dags ADD CHECK (deleted_at IS NULL OR file_missing);

-- Until now a missing file was told by the text of last_error.
UPDATE dags SET file_missing = true, last_error = NULL, last_error_at = NULL
    WHERE origin = 'file'
    AND last_error = path || ': file not found in the DAGs folder';

-- The message of an approval gate, rendered when the gate is reached
-- (its `${{ }}` evaluated against the run), for the API, CLI and
-- dashboard. NULL for a gate without a message and for other tasks.
ALTER TABLE tasks ADD COLUMN approval_message text;
