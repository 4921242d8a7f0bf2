"""Small immutable records: one execution, one inquiry (its fields and options), one trace.

Plain data with short human reprs; the repositories build them from rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, TypeVar

from attune_nb.lifecycle import ExecutionStatus

__all__ = [
    "Execution",
    "Inquiry",
    "InquiryField",
    "InquiryOption",
    "Trace",
    "TraceLink",
    "is_json_schema",
    "mask_secrets",
    "parse_fields",
    "parse_options",
    "validation_schema",
]


_R = TypeVar("_R")


def _from_mapping(cls: type[_R], row: Mapping[Any, Any], **overrides: Any) -> _R:
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    values = {k: v for k, v in row.items() if k in names}
    values.update(overrides)
    return cls(**values)


@dataclass(frozen=True, slots=True)
class Execution:
    """One row of ``attune.execution``.

    >>> db.executions.get(2)
    <Execution 2 deploy.checkout completed parent=1>
    """

    id: int
    action_ref: str
    status: ExecutionStatus
    action: int | None = None
    config: Any = None
    env_vars: Any = None
    parent: int | None = None
    enforcement: int | None = None
    executor: int | None = None
    permission_set_refs: tuple[str, ...] = ()
    worker: int | None = None
    result: Any = None
    started_at: datetime | None = None
    timeout_seconds: int | None = None
    created: datetime | None = None
    workflow_task: Any = None
    retry_count: int = 0
    max_retries: int | None = None
    retry_reason: str | None = None
    original_execution: int | None = None
    trace_tag: str | None = None
    updated: datetime | None = None

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> Execution:
        refs = row.get("permission_set_refs") or ()
        return _from_mapping(
            cls, row, status=ExecutionStatus(row["status"]), permission_set_refs=tuple(refs)
        )

    @property
    def is_terminal(self) -> bool:
        return self.status.is_terminal

    def __repr__(self) -> str:
        parent = f" parent={self.parent}" if self.parent is not None else ""
        return f"<Execution {self.id} {self.action_ref} {self.status.value}{parent}>"


# -- inquiries: Attune's flat response_schema and its option objects ----------------------

# Keys of a flat field that are Attune's own, not JSON Schema: left out when validating.
ATTUNE_FIELD_KEYS = ("required", "secret", "position")
OPTION_STYLES = ("default", "positive", "destructive")
SECRET_MASK = "***"


@dataclass(frozen=True, slots=True)
class InquiryField:
    """One field of an inquiry's response, read from its ``response_schema``.

    ``schema`` is the field's JSON Schema as Attune validates it (the flat entry without
    ``required``, ``secret`` and ``position``); ``default`` is None when there is none.

    >>> db.inquiries.get(392).fields[0]
    <InquiryField action string required enum=restart|escalate|ignore>
    """

    name: str
    type: str | None = None
    required: bool = False
    secret: bool = False
    enum: tuple[Any, ...] | None = None
    default: Any = None
    description: str | None = None
    position: int | None = None
    schema: Mapping[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        flags = "".join(
            f" {flag}" for flag, on in (("required", self.required), ("secret", self.secret)) if on
        )
        enum = "" if self.enum is None else " enum=" + "|".join(str(v) for v in self.enum)
        return f"<InquiryField {self.name} {self.type or 'any'}{flags}{enum}>"


@dataclass(frozen=True, slots=True)
class InquiryOption:
    """One of an inquiry's ``response_options``: choosing it responds with ``response``.

    ``style`` is ``default``, ``positive`` or ``destructive`` (how a button looks).

    >>> db.inquiries.get(392).options[0]
    <InquiryOption restart 'Restart the pod' destructive>
    """

    ref: str
    label: str
    style: str = "default"
    response: Any = None

    def __repr__(self) -> str:
        # The response is left out: a repr never shows response values.
        return f"<InquiryOption {self.ref} {self.label!r} {self.style}>"


def is_json_schema(schema: Any) -> bool:
    """Whether ``schema`` is a plain JSON Schema (older rows) rather than Attune's flat format.

    A flat schema maps each field name to an object with a string ``type``, so a
    top-level value that is not an object (``"type": "object"``), or a ``properties``
    entry without a string ``type``, can only be JSON Schema.

    >>> is_json_schema({"approved": {"type": "boolean", "required": True}})
    False
    >>> is_json_schema({"type": "object", "properties": {"approved": {"type": "boolean"}}})
    True
    """
    if not isinstance(schema, Mapping):
        return False
    if any(not isinstance(value, Mapping) for value in schema.values()):
        return True
    properties = schema.get("properties")
    return isinstance(properties, Mapping) and not isinstance(properties.get("type"), str)


def parse_fields(schema: Any) -> tuple[InquiryField, ...]:
    """The fields of a ``response_schema`` (flat, or plain JSON Schema), in display order.

    Display order is ``position`` (fields that have one first), then name. NULL (None)
    or anything that is not an object has no fields.

    >>> parse_fields({"reason": {"type": "string"}, "approved": {"type": "boolean",
    ...               "required": True, "position": 0}})
    (<InquiryField approved boolean required>, <InquiryField reason string>)
    """
    if not isinstance(schema, Mapping):
        return ()
    if is_json_schema(schema):
        properties = schema.get("properties")
        required = schema.get("required")
        names = set(required) if isinstance(required, list) else set()
        entries = [
            (str(name), spec if isinstance(spec, Mapping) else {}, name in names)
            for name, spec in (properties.items() if isinstance(properties, Mapping) else ())
        ]
    else:
        entries = [(str(name), spec, spec.get("required") is True) for name, spec in schema.items()]
    parsed = [_field(name, spec, required) for name, spec, required in entries]
    return tuple(sorted(parsed, key=lambda f: (f.position is None, f.position or 0, f.name)))


def _field(name: str, spec: Mapping[str, Any], required: bool) -> InquiryField:
    kind = spec.get("type")
    enum = spec.get("enum")
    description = spec.get("description")
    position = spec.get("position")
    return InquiryField(
        name=name,
        type=kind if isinstance(kind, str) else None,
        required=required,
        secret=spec.get("secret") is True,
        enum=tuple(enum) if isinstance(enum, list) else None,
        default=spec.get("default"),
        description=description if isinstance(description, str) else None,
        position=position if isinstance(position, int) and not isinstance(position, bool) else None,
        schema={k: v for k, v in spec.items() if k not in ATTUNE_FIELD_KEYS},
    )


def validation_schema(schema: Any) -> Any:
    """The JSON Schema a response must satisfy, as Attune builds it; None for a NULL schema.

    A flat schema becomes ``{"type": "object", "properties": {...}, "required": [...]}``
    (the fields without ``required``, ``secret`` and ``position``; the names marked
    ``required: true``). A plain JSON Schema (older rows) is used as it is.

    >>> validation_schema({"approved": {"type": "boolean", "required": True, "position": 0}})
    {'type': 'object', 'properties': {'approved': {'type': 'boolean'}}, 'required': ['approved']}
    """
    if schema is None:
        return None
    if not isinstance(schema, Mapping) or is_json_schema(schema):
        return schema
    fields_ = parse_fields(schema)
    return {
        "type": "object",
        "properties": {f.name: dict(f.schema) for f in fields_},
        "required": [f.name for f in fields_ if f.required],
    }


def parse_options(options: Any) -> tuple[InquiryOption, ...]:
    """The ``response_options`` of an inquiry as :class:`InquiryOption` records, in order.

    Attune's objects (``ref``, ``label``, ``style``, ``response``) are read as they are; a
    missing ``label`` is the ``ref``, a missing or unknown ``style`` is ``default``.
    Older rows hold plain values: ``"restart"`` becomes ref and label ``restart``, style
    ``default``, response ``{"choice": "restart"}`` (the shape of the responses those
    rows were answered with). An object without a ``response`` gets that shape too.

    >>> parse_options(["restart"])[0].response
    {'choice': 'restart'}
    """
    if isinstance(options, Mapping):
        options = [options]
    if not isinstance(options, list):
        return ()
    parsed = []
    for index, option in enumerate(options):
        if isinstance(option, Mapping):
            ref = option.get("ref")
            ref = str(ref if ref is not None else option.get("label", index))
            label = option.get("label")
            style = option.get("style")
            response = option.get("response", {"choice": ref})
            parsed.append(
                InquiryOption(
                    ref=ref,
                    label=str(label) if label is not None else ref,
                    style=style if style in OPTION_STYLES else "default",
                    response=response,
                )
            )
        else:
            ref = option if isinstance(option, str) else json.dumps(option)
            parsed.append(InquiryOption(ref=ref, label=ref, response={"choice": option}))
    return tuple(parsed)


def mask_secrets(response: Any, fields_: Iterable[InquiryField]) -> Any:
    """``response`` with the values of secret fields replaced by ``"***"`` (a copy).

    >>> mask_secrets({"pin": "1234", "ok": True}, [InquiryField("pin", "string", secret=True)])
    {'pin': '***', 'ok': True}
    """
    secret = {f.name for f in fields_ if f.secret}
    if not secret or not isinstance(response, Mapping):
        return response
    return {k: SECRET_MASK if k in secret else v for k, v in response.items()}


@dataclass(frozen=True, slots=True)
class Inquiry:
    """One row of ``attune.inquiry`` (``created_by_execution`` whatever the schema calls it).

    :attr:`fields` and :attr:`options` are the parsed ``response_schema`` and
    ``response_options``; the raw JSON stays in those two attributes. The repr shows no
    response values, and :attr:`masked_response` hides the secret fields.

    >>> inquiry = db.inquiries.get(392)
    >>> inquiry
    <Inquiry 392 pending execution=19983>
    >>> [f.name for f in inquiry.fields]
    ['action', 'notify_oncall', 'replicas', 'comment', 'ack_token']
    >>> [o.ref for o in inquiry.options]
    ['restart', 'escalate', 'ignore']
    """

    id: int
    created_by_execution: int
    prompt: str
    status: str
    response_options: Any = None
    response_schema: Any = None
    assigned_to: int | None = None
    response: Any = None
    timeout_at: datetime | None = None
    responded_at: datetime | None = None
    responded_by: int | None = None
    created: datetime | None = None
    updated: datetime | None = None

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> Inquiry:
        return _from_mapping(cls, row, status=str(row["status"]))

    @property
    def fields(self) -> tuple[InquiryField, ...]:
        """The response's fields (:func:`parse_fields`), in ``position`` then name order."""
        return parse_fields(self.response_schema)

    @property
    def options(self) -> tuple[InquiryOption, ...]:
        """The options a person may choose (:func:`parse_options`), in stored order."""
        return parse_options(self.response_options)

    def option(self, ref: str) -> InquiryOption | None:
        """The option whose ``ref`` is ``ref``, or None."""
        return next((o for o in self.options if o.ref == ref), None)

    @property
    def validation_schema(self) -> Any:
        """The JSON Schema a response must satisfy (:func:`validation_schema`); None: any object."""
        return validation_schema(self.response_schema)

    @property
    def masked_response(self) -> Any:
        """The response, secret fields shown as ``"***"``: what to display."""
        return mask_secrets(self.response, self.fields)

    def __repr__(self) -> str:
        return f"<Inquiry {self.id} {self.status} execution={self.created_by_execution}>"


@dataclass(frozen=True, slots=True)
class TraceLink:
    """One link of a trace: what it is, its id and ref, and whether the row still exists."""

    kind: str  # event, enforcement, rule, root, execution
    id: int | None
    ref: str | None = None
    status: str | None = None
    created: datetime | None = None
    missing: bool = False  # referenced, but the row is gone (retention)
    cycle: bool = False  # the parent chain loops back here (corrupted data): cut

    def __repr__(self) -> str:
        what = f"{self.kind} {self.id}" if self.id is not None else f"{self.kind} (none)"
        ref = f" {self.ref}" if self.ref else ""
        state = (
            " MISSING"
            if self.missing
            else " LOOP"
            if self.cycle
            else f" {self.status}"
            if self.status
            else ""
        )
        return f"<{what}{ref}{state}>"


@dataclass(frozen=True, slots=True)
class Trace:
    """How an execution came to be: event -> enforcement -> rule -> root -> execution."""

    execution: Execution
    links: tuple[TraceLink, ...] = field(default_factory=tuple)

    def link(self, kind: str) -> TraceLink | None:
        return next((link for link in self.links if link.kind == kind), None)

    @property
    def missing(self) -> list[str]:
        """The links that are referenced but gone, e.g. ``['event 12']``."""
        return [f"{link.kind} {link.id}" for link in self.links if link.missing]

    @property
    def cycle(self) -> bool:
        """Whether the parent chain loops (corrupted data); the trace is cut where it does."""
        return any(link.cycle for link in self.links)

    def to_frame(self) -> Any:
        """The links as a frame (:data:`~attune_nb.frames.TRACE_COLUMNS`), event first."""
        from attune_nb.frames import TRACE_COLUMNS, records_frame

        return records_frame(
            [
                (link.kind, link.id, link.ref, link.status, link.created, link.missing, link.cycle)
                for link in self.links
            ],
            TRACE_COLUMNS,
        )

    def __repr__(self) -> str:
        return " -> ".join(repr(link) for link in self.links)
