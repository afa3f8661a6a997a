-- SPDX-License-Identifier: Apache-2.0
-- The leader of several servers on one database, and its epoch. The
-- server holding the leader advisory lock (a session lock on a connection
-- of its own) adds one to the epoch when it wins the lock; every write it
-- makes as leader first reads this row FOR SHARE in its own transaction
-- and checks the epoch is still its own. The next leader's increment
-- waits for those transactions, and a deposed leader's later ones fail:
-- a leader whose session lingers cannot fire a slot.
CREATE TABLE leader (
    id    integer PRIMARY KEY CHECK (id = 1), -- the one row
    epoch bigint NOT NULL DEFAULT 0,          -- bumped by each new leader
    name  text NOT NULL DEFAULT '',           -- the leader's --name
    since timestamptz                          -- when it won
);
INSERT INTO leader (id) VALUES (1);
