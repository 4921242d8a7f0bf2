-- execution_history: the audit of every change to attune.execution, written by
-- record_execution_history(). Range-partitioned by time (daily partitions are
-- added by attune.ensure_execution_history_partitions(), the DEFAULT takes the rest).

CREATE TABLE attune.execution_history (
    time           TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    operation      TEXT NOT NULL,
    entity_id      BIGINT NOT NULL,
    entity_ref     TEXT,
    changed_fields TEXT[] NOT NULL DEFAULT '{}',
    old_values     JSONB,
    new_values     JSONB
) PARTITION BY RANGE (time);

CREATE TABLE attune.execution_history_default
    PARTITION OF attune.execution_history DEFAULT;

CREATE INDEX idx_execution_history_entity ON attune.execution_history (entity_id, time DESC);
CREATE INDEX idx_execution_history_entity_ref ON attune.execution_history (entity_ref, time DESC);
CREATE INDEX idx_execution_history_status_changes ON attune.execution_history (time DESC)
    WHERE 'status' = ANY(changed_fields);

-- Creates one partition per UTC day in [first_day, last_day] that does not exist
-- yet and whose range holds no rows in the DEFAULT partition; returns how many.
CREATE FUNCTION attune.ensure_execution_history_partitions(first_day DATE, last_day DATE)
RETURNS INTEGER AS $$
DECLARE
    day DATE := first_day;
    made INTEGER := 0;
    part TEXT;
    lo TIMESTAMPTZ;
    hi TIMESTAMPTZ;
BEGIN
    WHILE day <= last_day LOOP
        part := 'execution_history_' || to_char(day, 'YYYYMMDD');
        lo := day::timestamp AT TIME ZONE 'UTC';
        hi := (day + 1)::timestamp AT TIME ZONE 'UTC';
        IF to_regclass('attune.' || part) IS NULL
           AND NOT EXISTS (SELECT 1 FROM attune.execution_history_default
                           WHERE time >= lo AND time < hi) THEN
            EXECUTE format('CREATE TABLE attune.%I PARTITION OF attune.execution_history '
                           'FOR VALUES FROM (%L) TO (%L)', part, lo, hi);
            made := made + 1;
        END IF;
        day := day + 1;
    END LOOP;
    RETURN made;
END;
$$ LANGUAGE plpgsql;

-- Large JSON is kept out of the history as a {digest, size, type} summary;
-- the live row has the full value.
CREATE FUNCTION attune._jsonb_history_value(val JSONB) RETURNS JSONB AS $$
    SELECT CASE
        WHEN val IS NULL THEN NULL
        WHEN octet_length(val::text) <= 1024 THEN val
        ELSE jsonb_build_object('digest', 'md5:' || md5(val::text),
                                'size', octet_length(val::text),
                                'type', jsonb_typeof(val))
    END
$$ LANGUAGE sql IMMUTABLE;

CREATE FUNCTION attune.record_execution_history() RETURNS TRIGGER AS $$
DECLARE
    changed TEXT[] := '{}';
    old_vals JSONB := '{}';
    new_vals JSONB := '{}';
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO attune.execution_history
            (time, operation, entity_id, entity_ref, changed_fields, old_values, new_values)
        VALUES (NOW(), 'INSERT', NEW.id, NEW.action_ref, '{}', NULL,
                jsonb_build_object('status', NEW.status, 'action_ref', NEW.action_ref,
                                   'executor', NEW.executor, 'worker', NEW.worker,
                                   'parent', NEW.parent, 'enforcement', NEW.enforcement,
                                   'started_at', NEW.started_at, 'trace_tag', NEW.trace_tag));
        RETURN NEW;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO attune.execution_history
            (time, operation, entity_id, entity_ref, changed_fields, old_values, new_values)
        VALUES (NOW(), 'DELETE', OLD.id, OLD.action_ref, '{}', NULL, NULL);
        RETURN OLD;
    END IF;

    IF OLD.status IS DISTINCT FROM NEW.status THEN
        changed := changed || 'status'::text;
        old_vals := old_vals || jsonb_build_object('status', OLD.status);
        new_vals := new_vals || jsonb_build_object('status', NEW.status);
    END IF;
    IF OLD.result IS DISTINCT FROM NEW.result THEN
        changed := changed || 'result'::text;
        old_vals := old_vals || jsonb_build_object('result', attune._jsonb_history_value(OLD.result));
        new_vals := new_vals || jsonb_build_object('result', attune._jsonb_history_value(NEW.result));
    END IF;
    IF OLD.executor IS DISTINCT FROM NEW.executor THEN
        changed := changed || 'executor'::text;
        old_vals := old_vals || jsonb_build_object('executor', OLD.executor);
        new_vals := new_vals || jsonb_build_object('executor', NEW.executor);
    END IF;
    IF OLD.worker IS DISTINCT FROM NEW.worker THEN
        changed := changed || 'worker'::text;
        old_vals := old_vals || jsonb_build_object('worker', OLD.worker);
        new_vals := new_vals || jsonb_build_object('worker', NEW.worker);
    END IF;
    IF OLD.workflow_task IS DISTINCT FROM NEW.workflow_task THEN
        changed := changed || 'workflow_task'::text;
        old_vals := old_vals || jsonb_build_object('workflow_task', OLD.workflow_task);
        new_vals := new_vals || jsonb_build_object('workflow_task', NEW.workflow_task);
    END IF;
    IF OLD.env_vars IS DISTINCT FROM NEW.env_vars THEN
        changed := changed || 'env_vars'::text;
        old_vals := old_vals || jsonb_build_object('env_vars', attune._jsonb_history_value(OLD.env_vars));
        new_vals := new_vals || jsonb_build_object('env_vars', attune._jsonb_history_value(NEW.env_vars));
    END IF;
    IF OLD.started_at IS DISTINCT FROM NEW.started_at THEN
        changed := changed || 'started_at'::text;
        old_vals := old_vals || jsonb_build_object('started_at', OLD.started_at);
        new_vals := new_vals || jsonb_build_object('started_at', NEW.started_at);
    END IF;
    IF OLD.trace_tag IS DISTINCT FROM NEW.trace_tag THEN
        changed := changed || 'trace_tag'::text;
        old_vals := old_vals || jsonb_build_object('trace_tag', OLD.trace_tag);
        new_vals := new_vals || jsonb_build_object('trace_tag', NEW.trace_tag);
    END IF;

    IF cardinality(changed) > 0 THEN
        INSERT INTO attune.execution_history
            (time, operation, entity_id, entity_ref, changed_fields, old_values, new_values)
        VALUES (NOW(), 'UPDATE', NEW.id, NEW.action_ref, changed, old_vals, new_vals);
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER execution_history_trigger
    AFTER INSERT OR UPDATE OR DELETE ON attune.execution
    FOR EACH ROW EXECUTE FUNCTION attune.record_execution_history();
