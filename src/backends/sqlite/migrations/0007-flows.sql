-- Flows (capability flows, contract/flow-store.ts): jobs that wait for other jobs.
--
-- A flow job carries its flow's id; every other job keeps NULL there and 0 in the counters, so
-- the statements that settle and claim ordinary jobs pay no more than reading has_parents.
-- A parent waits as 'scheduled' with run_at = waitingForChildrenRunAt (never due);
-- pending_children counts its dependencies not yet resolved, total_children all of them.
-- run_if is 'always' or 'any-child-failed' on a flow job, NULL on any other.
ALTER TABLE jobsmith_jobs ADD COLUMN flow_id TEXT;
ALTER TABLE jobsmith_jobs ADD COLUMN has_parents INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobsmith_jobs ADD COLUMN total_children INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobsmith_jobs ADD COLUMN pending_children INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobsmith_jobs ADD COLUMN run_if TEXT CHECK (run_if IN ('always','any-child-failed'));
-- Partial: jobs outside flows are not in it, and cost it nothing.
CREATE INDEX jobsmith_jobs_flow ON jobsmith_jobs (flow_id) WHERE flow_id IS NOT NULL;

-- One row per dependency: parent_id waits for child_id. `position` keeps the order the parent
-- gave them; `child_name` lets a parent name a child deleted or pruned after it finished.
-- `outcome` is NULL until the write that makes the child finish resolves it ('completed',
-- 'failed' or 'cancelled'; a child deleted before it finished counts as 'cancelled').
-- No foreign keys: a child's row may go while its parent still lists it, and the parent's
-- dependencies go with the parent through the trigger below, which ordinary jobs skip on a
-- flag test where a foreign key would look this table up for every deleted job.
CREATE TABLE jobsmith_dependencies (
  parent_id TEXT NOT NULL,
  child_id TEXT NOT NULL,
  position INTEGER NOT NULL,
  child_name TEXT NOT NULL,
  policy TEXT NOT NULL CHECK (policy IN ('fail','cancel','ignore','continue')),
  outcome TEXT CHECK (outcome IN ('completed','failed','cancelled')),
  PRIMARY KEY (parent_id, child_id)
) WITHOUT ROWID;
CREATE INDEX jobsmith_dependencies_child ON jobsmith_dependencies (child_id);

-- A parent deleted or pruned takes its dependencies with it; its children stay, and one no
-- other job depends on any more has no parents. One level only: the UPDATE changes no
-- column a trigger watches, so nothing cascades from it, however deep the graph.
CREATE TRIGGER jobsmith_jobs_parent_deleted AFTER DELETE ON jobsmith_jobs WHEN OLD.total_children > 0
BEGIN
  UPDATE jobsmith_jobs SET has_parents = 0
    WHERE id IN (SELECT child_id FROM jobsmith_dependencies WHERE parent_id = OLD.id)
      AND NOT EXISTS (SELECT 1 FROM jobsmith_dependencies AS other WHERE other.child_id = jobsmith_jobs.id AND other.parent_id <> OLD.id);
  DELETE FROM jobsmith_dependencies WHERE parent_id = OLD.id;
END;
