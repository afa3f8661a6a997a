/* SPDX-License-Identifier: Apache-2.0 */
/* SQL that the fast claim (attempts.c) and the pooled claim (pools.c)
 * share; included by store/ alone. */
#ifndef WEIR_STORE_POOLS_SQL_H
#define WEIR_STORE_POOLS_SQL_H

/* A task that may be claimed now (queued, or a retry that is due). */
#define POOL_CLAIMABLE                                                         \
    " t.state IN ('queued', 'up_for_retry') AND (t.state = 'queued' OR"        \
    " t.next_try_at <= now())"

/*
 * The pools p with room (f.room, by a count no lock protects: the pooled
 * claim counts again under the pool's lock) and claimable tasks in the
 * queues QUEUES that fit in it, or that need more slots than the pool has
 * (claimed to be failed).
 */
#define POOL_ROOM(QUEUES)                                                      \
    " FROM pools p CROSS JOIN LATERAL (SELECT p.slots"                         \
    " - coalesce(sum(x.pool_slots), 0) AS room FROM tasks x"                   \
    " WHERE x.pool = p.name AND x.state = 'running') f WHERE f.room > 0"       \
    " AND EXISTS (SELECT 1 FROM tasks t WHERE t.pool = p.name"                 \
    " AND" POOL_CLAIMABLE " AND t.queue = ANY (" QUEUES ")"                    \
    " AND (t.pool_slots <= f.room OR t.pool_slots > p.slots))"

#endif
