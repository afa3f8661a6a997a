-- SPDX-License-Identifier: Apache-2.0
-- Events older than the server's event retention are deleted once
-- nothing needs them (no trigger_events row: neither pending for a
-- trigger nor consumed by a run); this index finds the old ones.
CREATE INDEX events_received_at_idx ON events (received_at);
