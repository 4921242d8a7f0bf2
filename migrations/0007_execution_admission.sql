-- Upstream's concurrency policy: an action (optionally per group key) runs at most
-- max_concurrent executions at once; the others wait in a queue. A `requested`
-- execution with a `queued` entry is legitimately waiting for a slot, not stuck.
-- (Present in current Attune; attune_nb probes for it on other databases.)

CREATE TABLE attune.execution_admission_state (
    id             BIGSERIAL PRIMARY KEY,
    action_id      BIGINT NOT NULL REFERENCES attune.action(id) ON DELETE CASCADE,
    group_key      TEXT NOT NULL DEFAULT '',
    max_concurrent INTEGER NOT NULL CHECK (max_concurrent > 0),
    created        TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated        TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    UNIQUE (action_id, group_key)
);

CREATE TABLE attune.execution_admission_entry (
    id           BIGSERIAL PRIMARY KEY,
    state_id     BIGINT NOT NULL REFERENCES attune.execution_admission_state(id) ON DELETE CASCADE,
    execution_id BIGINT NOT NULL UNIQUE REFERENCES attune.execution(id) ON DELETE CASCADE,
    status       TEXT NOT NULL CHECK (status IN ('active', 'queued')),
    queue_order  BIGINT,
    enqueued_at  TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    activated_at TIMESTAMPTZ,
    created      TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated      TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

CREATE INDEX idx_execution_admission_entry_state
    ON attune.execution_admission_entry (state_id, status, queue_order);

CREATE TRIGGER update_execution_admission_state_updated BEFORE UPDATE
    ON attune.execution_admission_state FOR EACH ROW EXECUTE FUNCTION attune.update_updated_column();
CREATE TRIGGER update_execution_admission_entry_updated BEFORE UPDATE
    ON attune.execution_admission_entry FOR EACH ROW EXECUTE FUNCTION attune.update_updated_column();
