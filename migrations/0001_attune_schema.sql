-- The subset of Attune's schema that attune_nb reads and operates on.
-- Names, types and enum values follow ATTUNE_SCHEMA.md exactly: a real Attune
-- database has these and no more, so nothing here may be invented.

CREATE SCHEMA attune;
SET LOCAL search_path TO attune, public;

CREATE TYPE attune.execution_status_enum AS ENUM (
    'requested', 'scheduling', 'scheduled', 'running', 'completed',
    'failed', 'canceling', 'cancelled', 'timeout', 'abandoned');
CREATE TYPE attune.inquiry_status_enum AS ENUM ('pending', 'responded', 'timeout', 'cancelled');
CREATE TYPE attune.enforcement_status_enum AS ENUM ('created', 'processed', 'disabled');
CREATE TYPE attune.enforcement_condition_enum AS ENUM ('any', 'all');
CREATE TYPE attune.worker_type_enum AS ENUM ('local', 'remote', 'container');
CREATE TYPE attune.worker_role_enum AS ENUM ('action', 'sensor');
CREATE TYPE attune.worker_status_enum AS ENUM ('active', 'inactive', 'busy', 'error');
CREATE TYPE attune.artifact_retention_enum AS ENUM ('versions', 'days', 'hours', 'minutes');

CREATE FUNCTION attune.update_updated_column() RETURNS TRIGGER AS $$
BEGIN
    NEW.updated = NOW();
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TABLE attune.identity (
    id            BIGSERIAL PRIMARY KEY,
    login         TEXT NOT NULL UNIQUE,
    display_name  TEXT,
    password_hash TEXT,
    attributes    JSONB NOT NULL DEFAULT '{}',
    frozen        BOOLEAN NOT NULL DEFAULT false,
    created       TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated       TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

CREATE TABLE attune.pack (
    id           BIGSERIAL PRIMARY KEY,
    ref          TEXT NOT NULL UNIQUE,
    label        TEXT NOT NULL,
    description  TEXT,
    version      TEXT NOT NULL,
    conf_schema  JSONB NOT NULL DEFAULT '{}',
    config       JSONB NOT NULL DEFAULT '{}',
    meta         JSONB NOT NULL DEFAULT '{}',
    tags         TEXT[] NOT NULL DEFAULT '{}',
    runtime_deps TEXT[] NOT NULL DEFAULT '{}',
    dependencies TEXT[] NOT NULL DEFAULT '{}',
    is_standard  BOOLEAN NOT NULL DEFAULT false,
    created      TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated      TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

CREATE TABLE attune.action (
    id              BIGSERIAL PRIMARY KEY,
    ref             TEXT NOT NULL UNIQUE,
    pack            BIGINT NOT NULL REFERENCES attune.pack(id) ON DELETE CASCADE,
    pack_ref        TEXT NOT NULL,
    label           TEXT NOT NULL,
    description     TEXT,
    entrypoint      TEXT NOT NULL,
    runtime         BIGINT,
    enabled         BOOLEAN NOT NULL DEFAULT true,
    param_schema    JSONB,
    out_schema      JSONB,
    is_adhoc        BOOLEAN NOT NULL DEFAULT false,
    timeout_seconds INTEGER,
    max_retries     INTEGER NOT NULL DEFAULT 0,
    workflow_def    BIGINT,
    created         TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated         TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

CREATE TABLE attune.trigger (
    id           BIGSERIAL PRIMARY KEY,
    ref          TEXT NOT NULL UNIQUE,
    pack         BIGINT REFERENCES attune.pack(id) ON DELETE CASCADE,
    pack_ref     TEXT,
    label        TEXT NOT NULL,
    description  TEXT,
    enabled      BOOLEAN NOT NULL DEFAULT true,
    param_schema JSONB,
    out_schema   JSONB,
    created      TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated      TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

CREATE TABLE attune.rule (
    id             BIGSERIAL PRIMARY KEY,
    ref            TEXT NOT NULL UNIQUE,
    pack           BIGINT NOT NULL REFERENCES attune.pack(id) ON DELETE CASCADE,
    pack_ref       TEXT NOT NULL,
    label          TEXT NOT NULL,
    description    TEXT,
    action         BIGINT REFERENCES attune.action(id) ON DELETE SET NULL,
    action_ref     TEXT NOT NULL,
    trigger        BIGINT REFERENCES attune.trigger(id) ON DELETE SET NULL,
    trigger_ref    TEXT NOT NULL,
    conditions     JSONB NOT NULL DEFAULT '[]',
    action_params  JSONB DEFAULT '{}',
    trigger_params JSONB DEFAULT '{}',
    enabled        BOOLEAN NOT NULL DEFAULT true,
    created        TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated        TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

-- Real Attune range-partitions event by created with primary key (id, created);
-- the embedded default keeps a plain table with the same columns.
CREATE TABLE attune.event (
    id          BIGSERIAL PRIMARY KEY,
    trigger     BIGINT REFERENCES attune.trigger(id) ON DELETE SET NULL,
    trigger_ref TEXT NOT NULL,
    config      JSONB,
    payload     JSONB,
    source      BIGINT,
    source_ref  TEXT,
    rule        BIGINT,
    rule_ref    TEXT,
    trace_tag   TEXT,
    created     TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

CREATE TABLE attune.enforcement (
    id          BIGSERIAL PRIMARY KEY,
    rule        BIGINT REFERENCES attune.rule(id) ON DELETE SET NULL,
    rule_ref    TEXT NOT NULL,
    trigger_ref TEXT NOT NULL,
    config      JSONB,
    event       BIGINT,
    status      attune.enforcement_status_enum NOT NULL DEFAULT 'created',
    payload     JSONB NOT NULL,
    condition   attune.enforcement_condition_enum NOT NULL DEFAULT 'all',
    conditions  JSONB NOT NULL DEFAULT '[]',
    created     TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    resolved_at TIMESTAMPTZ
);

CREATE TABLE attune.worker (
    id             BIGSERIAL PRIMARY KEY,
    name           TEXT NOT NULL UNIQUE,
    worker_type    attune.worker_type_enum NOT NULL,
    worker_role    attune.worker_role_enum NOT NULL,
    runtime        BIGINT,
    host           TEXT,
    port           INTEGER,
    status         attune.worker_status_enum DEFAULT 'active',
    capabilities   JSONB,
    meta           JSONB,
    last_heartbeat TIMESTAMPTZ,
    created        TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated        TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

CREATE TABLE attune.execution (
    id                  BIGSERIAL PRIMARY KEY,
    action              BIGINT REFERENCES attune.action(id) ON DELETE SET NULL,
    action_ref          TEXT NOT NULL,
    config              JSONB,
    env_vars            JSONB,
    parent              BIGINT,
    enforcement         BIGINT,
    executor            BIGINT REFERENCES attune.identity(id) ON DELETE SET NULL,
    permission_set_refs TEXT[] NOT NULL DEFAULT '{}',
    worker              BIGINT REFERENCES attune.worker(id) ON DELETE SET NULL,
    status              attune.execution_status_enum NOT NULL DEFAULT 'requested',
    result              JSONB,
    started_at          TIMESTAMPTZ,
    timeout_seconds     INTEGER CHECK (timeout_seconds IS NULL OR timeout_seconds > 0),
    created             TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    workflow_task       JSONB,
    retry_count         INTEGER NOT NULL DEFAULT 0,
    max_retries         INTEGER,
    retry_reason        TEXT,
    original_execution  BIGINT REFERENCES attune.execution(id) ON DELETE SET NULL,
    trace_tag           TEXT,
    updated             TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

-- The indexes Attune itself keeps on execution.
CREATE INDEX idx_execution_status_created ON attune.execution (status, created DESC);
CREATE INDEX idx_execution_parent_created ON attune.execution (parent, created DESC);
CREATE INDEX idx_execution_action_ref ON attune.execution (action_ref);
CREATE INDEX idx_execution_top_level_created ON attune.execution (created DESC) WHERE parent IS NULL;
CREATE INDEX idx_execution_pack ON attune.execution (split_part(action_ref, '.', 1));
CREATE INDEX idx_execution_enforcement ON attune.execution (enforcement);
CREATE INDEX idx_execution_created ON attune.execution (created DESC, id DESC);
CREATE INDEX idx_execution_original ON attune.execution (original_execution) WHERE original_execution IS NOT NULL;

CREATE TABLE attune.inquiry (
    id                   BIGSERIAL PRIMARY KEY,
    created_by_execution BIGINT NOT NULL,
    prompt               TEXT NOT NULL,
    response_schema      JSONB,
    response_options     JSONB NOT NULL
        CHECK (jsonb_typeof(response_options) = 'array'
               AND jsonb_array_length(response_options) BETWEEN 1 AND 25),
    assigned_to          BIGINT REFERENCES attune.identity(id) ON DELETE SET NULL,
    status               attune.inquiry_status_enum NOT NULL DEFAULT 'pending',
    response             JSONB,
    timeout_at           TIMESTAMPTZ,
    responded_at         TIMESTAMPTZ,
    responded_by         BIGINT REFERENCES attune.identity(id) ON DELETE SET NULL,
    created              TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated              TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
CREATE INDEX idx_inquiry_status_created ON attune.inquiry (status, created DESC);
CREATE INDEX idx_inquiry_created_by_execution ON attune.inquiry (created_by_execution);

CREATE TRIGGER identity_updated BEFORE UPDATE ON attune.identity
    FOR EACH ROW EXECUTE FUNCTION attune.update_updated_column();
CREATE TRIGGER pack_updated BEFORE UPDATE ON attune.pack
    FOR EACH ROW EXECUTE FUNCTION attune.update_updated_column();
CREATE TRIGGER action_updated BEFORE UPDATE ON attune.action
    FOR EACH ROW EXECUTE FUNCTION attune.update_updated_column();
CREATE TRIGGER trigger_updated BEFORE UPDATE ON attune.trigger
    FOR EACH ROW EXECUTE FUNCTION attune.update_updated_column();
CREATE TRIGGER rule_updated BEFORE UPDATE ON attune.rule
    FOR EACH ROW EXECUTE FUNCTION attune.update_updated_column();
CREATE TRIGGER worker_updated BEFORE UPDATE ON attune.worker
    FOR EACH ROW EXECUTE FUNCTION attune.update_updated_column();
CREATE TRIGGER execution_updated BEFORE UPDATE ON attune.execution
    FOR EACH ROW EXECUTE FUNCTION attune.update_updated_column();
CREATE TRIGGER inquiry_updated BEFORE UPDATE ON attune.inquiry
    FOR EACH ROW EXECUTE FUNCTION attune.update_updated_column();
