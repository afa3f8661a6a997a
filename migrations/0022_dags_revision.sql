-- SPDX-License-Identifier: Apache-2.0
-- The git revision the leader's DAGs folder is checked out at (NULL when
-- it is not a checkout), recorded when the leader scans or reloads the
-- folder and only when it changed. Each lease of a DAG loaded from the
-- folder carries it (dags_revision); a worker whose --dags-dir is a
-- checkout at another revision refuses the attempt.
CREATE TABLE dags_revision (
    id         integer PRIMARY KEY CHECK (id = 1), -- the one row
    revision   text CHECK (revision ~ '^([0-9a-f]{40}|[0-9a-f]{64})$'),
    updated_at timestamptz NOT NULL DEFAULT now() -- when it last changed
);
INSERT INTO dags_revision (id) VALUES (1);
