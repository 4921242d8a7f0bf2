-- Upstream Attune range-partitions event by created, with primary key (id, created):
-- id alone is not guaranteed unique there. The demo schema now has the same shape
-- (one DEFAULT partition takes every row), so that queries written against it
-- (a join on event.id must not assume uniqueness; a time bound prunes partitions)
-- behave as they will on a real database. Existing rows are moved over.

ALTER TABLE attune.event RENAME TO event_plain;
ALTER TABLE attune.event_plain RENAME CONSTRAINT event_pkey TO event_plain_pkey;

CREATE TABLE attune.event (
    id          BIGINT NOT NULL DEFAULT nextval('attune.event_id_seq'),
    trigger     BIGINT REFERENCES attune.trigger(id) ON DELETE SET NULL,
    trigger_ref TEXT NOT NULL,
    config      JSONB,
    payload     JSONB,
    source      BIGINT,
    source_ref  TEXT,
    rule        BIGINT,
    rule_ref    TEXT,
    trace_tag   TEXT,
    created     TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    PRIMARY KEY (id, created)
) PARTITION BY RANGE (created);

CREATE TABLE attune.event_default PARTITION OF attune.event DEFAULT;

INSERT INTO attune.event SELECT * FROM attune.event_plain;
ALTER SEQUENCE attune.event_id_seq OWNED BY attune.event.id;
DROP TABLE attune.event_plain;
