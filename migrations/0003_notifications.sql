-- pg_notify triggers with the payloads Attune's services send. A payload over
-- about 7000 bytes is replaced by a compact one: the listener re-reads the row.

CREATE FUNCTION attune._notify_json(channel TEXT, payload JSONB, compact JSONB) RETURNS VOID AS $$
BEGIN
    IF octet_length(payload::text) > 7000 THEN
        PERFORM pg_notify(channel, compact::text);
    ELSE
        PERFORM pg_notify(channel, payload::text);
    END IF;
END;
$$ LANGUAGE plpgsql;

CREATE FUNCTION attune._execution_payload(e attune.execution) RETURNS JSONB AS $$
    SELECT jsonb_build_object(
        'entity_type', 'execution', 'entity_id', e.id, 'id', e.id,
        'action_id', e.action, 'action_ref', e.action_ref, 'status', e.status,
        'trace_tag', e.trace_tag, 'enforcement', e.enforcement,
        'rule_ref', enf.rule_ref, 'trigger_ref', enf.trigger_ref,
        'parent', e.parent, 'started_at', e.started_at,
        'workflow_task', e.workflow_task, 'created', e.created, 'updated', e.updated)
    FROM (SELECT 1) AS one
    LEFT JOIN attune.enforcement AS enf ON enf.id = e.enforcement
$$ LANGUAGE sql STABLE;

CREATE FUNCTION attune.notify_execution_created() RETURNS TRIGGER AS $$
BEGIN
    PERFORM attune._notify_json('execution_created', attune._execution_payload(NEW),
        jsonb_build_object('id', NEW.id, 'status', NEW.status, 'old_status', NULL,
                           'auth_mode', 'deferred'));
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE FUNCTION attune.notify_execution_status_changed() RETURNS TRIGGER AS $$
BEGIN
    IF OLD.status IS DISTINCT FROM NEW.status THEN
        PERFORM attune._notify_json('execution_status_changed',
            attune._execution_payload(NEW) || jsonb_build_object('old_status', OLD.status),
            jsonb_build_object('id', NEW.id, 'status', NEW.status, 'old_status', OLD.status,
                               'auth_mode', 'deferred'));
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER execution_created_notify AFTER INSERT ON attune.execution
    FOR EACH ROW EXECUTE FUNCTION attune.notify_execution_created();
CREATE TRIGGER execution_status_changed_notify AFTER UPDATE ON attune.execution
    FOR EACH ROW EXECUTE FUNCTION attune.notify_execution_status_changed();

CREATE FUNCTION attune._inquiry_payload(i attune.inquiry) RETURNS JSONB AS $$
    SELECT jsonb_build_object(
        'entity_type', 'inquiry', 'entity_id', i.id, 'id', i.id,
        'created_by_execution', i.created_by_execution, 'status', i.status,
        'timeout_at', i.timeout_at, 'updated', i.updated, 'created', i.created)
$$ LANGUAGE sql STABLE;

CREATE FUNCTION attune.notify_inquiry_created() RETURNS TRIGGER AS $$
BEGIN
    PERFORM pg_notify('inquiry_created', attune._inquiry_payload(NEW)::text);
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE FUNCTION attune.notify_inquiry_status_changed() RETURNS TRIGGER AS $$
BEGIN
    IF OLD.status IS DISTINCT FROM NEW.status THEN
        IF NEW.status = 'responded' THEN
            PERFORM pg_notify('inquiry_responded', attune._inquiry_payload(NEW)::text);
        ELSIF NEW.status = 'timeout' THEN
            PERFORM pg_notify('inquiry_timeout', attune._inquiry_payload(NEW)::text);
        END IF;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER inquiry_created_notify AFTER INSERT ON attune.inquiry
    FOR EACH ROW EXECUTE FUNCTION attune.notify_inquiry_created();
CREATE TRIGGER inquiry_status_changed_notify AFTER UPDATE ON attune.inquiry
    FOR EACH ROW EXECUTE FUNCTION attune.notify_inquiry_status_changed();
