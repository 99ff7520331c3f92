-- ARGV: now, count, the jobs' fields (see `enqueueJobs` in lib.lua). Returns per job {id, created}.
-- All or nothing: checks first, then writes.
return enqueueJobs(ARGV[3], tonumber(ARGV[2]), tonumber(ARGV[1]))
