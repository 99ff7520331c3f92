-- ARGV: now.
promoteDue(tonumber(ARGV[1]))
return 1
