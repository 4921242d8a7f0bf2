"""SQLAlchemy Core descriptions of the Attune tables attune_nb queries (spelled as Attune does).

Only the columns ATTUNE_SCHEMA.md documents; nothing is created from these.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, ENUM, JSONB

from attune_nb.lifecycle import ExecutionStatus

__all__ = [
    "ADMISSION_ENTRY",
    "OPTIONAL_EXECUTION_COLUMNS",
    "admission_entry",
    "enforcement",
    "event",
    "execution",
    "execution_history",
    "inquiry",
    "metadata",
    "optional_execution_column",
    "rule",
]

metadata = sa.MetaData(schema="attune")

STATUS = ENUM(
    *[s.value for s in ExecutionStatus],
    name="execution_status_enum",
    schema="attune",
    create_type=False,
)
INQUIRY_STATUS = ENUM(
    "pending",
    "responded",
    "timeout",
    "cancelled",
    name="inquiry_status_enum",
    schema="attune",
    create_type=False,
)
TZ = sa.DateTime(timezone=True)

# Columns of attune.execution that only newer Attune schemas have: probed per database
# (Engine.schema_features), never part of the table below, so that every statement
# built from it works on older schemas too.
OPTIONAL_EXECUTION_COLUMNS: dict[str, Any] = {"workflow_def": sa.BigInteger}
# The optional table of an action's concurrency queue (current Attune; probed too).
ADMISSION_ENTRY = "execution_admission_entry"

admission_entry = sa.Table(
    ADMISSION_ENTRY,
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("state_id", sa.BigInteger),
    sa.Column("execution_id", sa.BigInteger),
    sa.Column("status", sa.Text),
    sa.Column("queue_order", sa.BigInteger),
    sa.Column("enqueued_at", sa.DateTime(timezone=True)),
    sa.Column("activated_at", sa.DateTime(timezone=True)),
    schema="attune",
)


def optional_execution_column(name: str) -> Any:
    """``attune.execution.<name>`` for an optional column, typed, without a FROM of its own."""
    return sa.literal_column(f"attune.execution.{name}", OPTIONAL_EXECUTION_COLUMNS[name]())


execution = sa.Table(
    "execution",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("action", sa.BigInteger),
    sa.Column("action_ref", sa.Text, nullable=False),
    sa.Column("config", JSONB(none_as_null=True)),
    sa.Column("env_vars", JSONB(none_as_null=True)),
    sa.Column("parent", sa.BigInteger),
    sa.Column("enforcement", sa.BigInteger),
    sa.Column("executor", sa.BigInteger),
    sa.Column("permission_set_refs", ARRAY(sa.Text)),
    sa.Column("worker", sa.BigInteger),
    sa.Column("status", STATUS, nullable=False),
    sa.Column("result", JSONB(none_as_null=True)),
    sa.Column("started_at", TZ),
    sa.Column("timeout_seconds", sa.Integer),
    sa.Column("created", TZ),
    sa.Column("workflow_task", JSONB(none_as_null=True)),
    sa.Column("retry_count", sa.Integer),
    sa.Column("max_retries", sa.Integer),
    sa.Column("retry_reason", sa.Text),
    sa.Column("original_execution", sa.BigInteger),
    sa.Column("trace_tag", sa.Text),
    sa.Column("updated", TZ),
)

execution_history = sa.Table(
    "execution_history",
    metadata,
    sa.Column("time", TZ, nullable=False),
    sa.Column("operation", sa.Text, nullable=False),
    sa.Column("entity_id", sa.BigInteger, nullable=False),
    sa.Column("entity_ref", sa.Text),
    sa.Column("changed_fields", ARRAY(sa.Text)),
    sa.Column("old_values", JSONB),
    sa.Column("new_values", JSONB),
)

enforcement = sa.Table(
    "enforcement",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("rule", sa.BigInteger),
    sa.Column("rule_ref", sa.Text),
    sa.Column("trigger_ref", sa.Text),
    sa.Column("event", sa.BigInteger),
    sa.Column("status", sa.Text),
    sa.Column("created", TZ),
    sa.Column("resolved_at", TZ),
)

event = sa.Table(
    "event",
    metadata,
    sa.Column("id", sa.BigInteger),
    sa.Column("trigger", sa.BigInteger),
    sa.Column("trigger_ref", sa.Text),
    sa.Column("rule", sa.BigInteger),
    sa.Column("rule_ref", sa.Text),
    sa.Column("trace_tag", sa.Text),
    sa.Column("created", TZ),
)

rule = sa.Table(
    "rule",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("ref", sa.Text),
    sa.Column("action_ref", sa.Text),
    sa.Column("trigger_ref", sa.Text),
    sa.Column("enabled", sa.Boolean),
    sa.Column("created", TZ),
)

inquiry = sa.Table(
    "inquiry",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("created_by_execution", sa.BigInteger),
    sa.Column("prompt", sa.Text),
    sa.Column("response_schema", JSONB),
    sa.Column("response_options", JSONB),
    sa.Column("assigned_to", sa.BigInteger),
    sa.Column("status", INQUIRY_STATUS),
    sa.Column("response", JSONB),
    sa.Column("timeout_at", TZ),
    sa.Column("responded_at", TZ),
    sa.Column("responded_by", sa.BigInteger),
    sa.Column("created", TZ),
    sa.Column("updated", TZ),
)
