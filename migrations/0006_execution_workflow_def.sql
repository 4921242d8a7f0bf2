-- Newer upstream schemas set execution.workflow_def on the parent execution of a
-- workflow (the id of the workflow definition it runs): the way to tell a workflow
-- root from a plain action. Older Attune databases lack the column; attune_nb probes
-- for it and reads NULL there.

ALTER TABLE attune.execution ADD COLUMN workflow_def BIGINT;

UPDATE attune.execution e
SET workflow_def = a.workflow_def
FROM attune.action a
WHERE a.id = e.action AND a.workflow_def IS NOT NULL AND e.workflow_def IS NULL;
