-- A stock server runs with jit = on. Ruling plan nodes out (migrations 2 and 4) does not
-- forbid them: a plan that still needs one is costed near 1e10, far above every JIT
-- threshold, so PostgreSQL compiled each call with LLVM: 0.3-1.3 s per claim instead of
-- about 1 ms. These functions read at most a batch of rows by index, where compiling never
-- pays, so they turn the JIT off for themselves, whatever the server or session sets.
ALTER FUNCTION :SCHEMA.claim(text[], text[], integer, text, bigint, bigint) SET jit = off;
ALTER FUNCTION :SCHEMA.settle_and_claim(jsonb, bigint, bigint, text[], text[], integer, text, bigint) SET jit = off;
