-- The history stores result and env_vars as upstream Attune does: ALWAYS a
-- {"digest": "md5:...", "size": bytes, "type": jsonb_typeof} summary, whatever their
-- size (upstream's _jsonb_digest_summary()). The live row holds the value; the
-- history only says that it changed. 0002 kept values up to 1 KB inline, so reading
-- results from the history worked on attune_nb's databases only. Rows written
-- before this migration are rewritten to the same shape.

CREATE FUNCTION attune._jsonb_digest_summary(val JSONB) RETURNS JSONB AS $$
    SELECT CASE
        WHEN val IS NULL THEN NULL
        ELSE jsonb_build_object('digest', 'md5:' || md5(val::text),
                                'size', octet_length(val::text),
                                'type', jsonb_typeof(val))
    END
$$ LANGUAGE sql IMMUTABLE;

CREATE OR REPLACE FUNCTION attune.record_execution_history() RETURNS TRIGGER AS $$
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
        old_vals := old_vals || jsonb_build_object('result', attune._jsonb_digest_summary(OLD.result));
        new_vals := new_vals || jsonb_build_object('result', attune._jsonb_digest_summary(NEW.result));
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
        old_vals := old_vals || jsonb_build_object('env_vars', attune._jsonb_digest_summary(OLD.env_vars));
        new_vals := new_vals || jsonb_build_object('env_vars', attune._jsonb_digest_summary(NEW.env_vars));
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

-- Earlier rows: a value kept inline becomes its summary (a summary stays as it is).
CREATE FUNCTION attune._history_summary_of(vals JSONB, field TEXT) RETURNS JSONB AS $$
    SELECT CASE
        WHEN vals IS NULL OR NOT vals ? field OR vals -> field = 'null'::jsonb THEN vals
        WHEN jsonb_typeof(vals -> field) = 'object'
             AND (vals -> field) ?& ARRAY['digest', 'size', 'type']
             AND (SELECT count(*) FROM jsonb_object_keys(vals -> field)) = 3 THEN vals
        ELSE jsonb_set(vals, ARRAY[field], attune._jsonb_digest_summary(vals -> field))
    END
$$ LANGUAGE sql IMMUTABLE;

UPDATE attune.execution_history
SET old_values = attune._history_summary_of(attune._history_summary_of(old_values, 'result'), 'env_vars'),
    new_values = attune._history_summary_of(attune._history_summary_of(new_values, 'result'), 'env_vars')
WHERE operation = 'UPDATE' AND changed_fields && ARRAY['result', 'env_vars'];

DROP FUNCTION attune._history_summary_of(JSONB, TEXT);
DROP FUNCTION attune._jsonb_history_value(JSONB);
