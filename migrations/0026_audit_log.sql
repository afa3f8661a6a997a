-- SPDX-License-Identifier: Apache-2.0
-- The audit log: one row per mutating API request, written in the
-- transaction of the change it records (or apart, for a request refused
-- or failed before any change committed). Append-only for the
-- application: a trigger refuses every UPDATE, every TRUNCATE, and every
-- DELETE unless the transaction first said it is the retention prune
-- (SET LOCAL weir.audit_prune = 'on', done only by store_audit_prune()).
CREATE TABLE audit_log (
    id           bigserial PRIMARY KEY,
    at           timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor        text NOT NULL,          -- token name or user; "" if unknown
    actor_grants jsonb NOT NULL DEFAULT '[]', -- what the actor may do
    action       text NOT NULL,          -- "runs.cancel", "tokens.create"
    target       text NOT NULL DEFAULT '', -- "runs/12", "dags/etl", ...
    dag          text,                   -- the DAG concerned, when known
    params       jsonb NOT NULL DEFAULT '{}', -- the request, redacted
    outcome      text NOT NULL CHECK (outcome IN ('ok', 'refused', 'failed')),
    status       integer,                -- HTTP status; NULL: written at commit
    message      text NOT NULL DEFAULT '', -- why refused or failed
    client       text NOT NULL DEFAULT '', -- the client's address
    request_id   text                    -- X-Request-Id, when sent
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_actor ON audit_log (actor, id);
CREATE INDEX audit_log_dag ON audit_log (dag, id) WHERE dag IS NOT NULL;

CREATE FUNCTION audit_log_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND
       coalesce(current_setting('weir.audit_prune', true), '') = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_guard();
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_guard();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_guard();
