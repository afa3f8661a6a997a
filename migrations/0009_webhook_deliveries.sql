-- SPDX-License-Identifier: Apache-2.0
-- The delivery ids (X-Weir-Delivery, X-GitHub-Delivery) each webhook
-- trigger has accepted: a delivery sent again (a retry by the sender, or
-- a captured request replayed) is acknowledged as a duplicate without a
-- run. Rows older than the retention window (7 days) are pruned with the
-- events.
CREATE TABLE webhook_deliveries (
    dag_id      text NOT NULL REFERENCES dags (id) ON DELETE CASCADE,
    trigger_key text NOT NULL,
    delivery_id text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (dag_id, trigger_key, delivery_id)
);
CREATE INDEX webhook_deliveries_received ON webhook_deliveries (received_at);
