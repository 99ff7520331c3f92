-- ARGV: now, then the claim arguments (see `claimJobs` in lib.lua). Returns { jobs, nextRunAt }.
return claimJobs(tonumber(ARGV[1]), 1)
