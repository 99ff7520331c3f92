-- Right after a bulk enqueue the table has no statistics yet (autoanalyze runs up to a
-- minute later), or statistics from when the queue was nearly empty. The planner then
-- expects about one queued row per queue and reads the head of a queue through jobs_state
-- (state, queue) followed by a sort of every queued row, not through jobs_ready, whose
-- order is the claim order: each claim costs O(backlog), so throughput collapsed as the
-- backlog grew (40 ms per claim at 50,000 queued instead of 0.5 ms). Every ORDER BY in
-- claim() matches an index (jobs_ready, jobs_running, jobs_scheduled) and stops at a
-- LIMIT, so forbidding sorts there, whatever the statistics say, always picks the index
-- range; the one real sort left, merging the per-queue heads, is at most p_limit rows.
ALTER FUNCTION :SCHEMA.claim(text[], text[], integer, text, bigint, bigint) SET enable_sort = off;
