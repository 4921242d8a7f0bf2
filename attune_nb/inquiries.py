"""Inquiries: the human-in-the-loop questions executions ask, and answering them.

Responding is Attune's compare-and-set: pending -> responded only while ``timeout_at``
has not passed, with an option's response or an object its flat ``response_schema``
accepts (see :mod:`attune_nb.records` for how the schema and options are read).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Unpack

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from attune_nb import schema as t
from attune_nb.errors import (
    ConfigurationError,
    InquiryClosed,
    InquiryNotFound,
    InvalidResponse,
    SchemaMismatch,
)
from attune_nb.filters import (
    InquiryFilters,
    check_id,
    check_include,
    check_limit,
    inquiry_where,
)
from attune_nb.frames import INQUIRY_JSON_COLUMNS, Column, inquiry_layout
from attune_nb.records import SECRET_MASK, Inquiry, InquiryField, mask_secrets, parse_fields

if TYPE_CHECKING:
    from attune_nb.engine import Engine

__all__ = ["UNHEARD", "InquiryRepository", "validate_response"]

UNHEARD = (
    "the waiting workflow task does not resume: Attune's API publishes the message that releases it"
)
"""What a response written only in the database does not do (DatabaseOnlyWarning)."""

_SCHEMA_COLUMN = Column("response_schema", "json")


class InquiryRepository:
    """Inquiries: ``frame``, ``get``, ``respond``. Get it from ``db.inquiries``."""

    def __init__(self, db: Engine) -> None:
        self.db = db
        self._execution_column: str | None = None

    def __repr__(self) -> str:
        return f"<InquiryRepository {self.db.url}>"

    @property
    def execution_column(self) -> str:
        """``created_by_execution``, or ``execution`` in older Attune schemas (probed once).

        Raises :class:`~attune_nb.errors.SchemaMismatch` naming what the table lacks
        of the columns attune_nb reads (``inquiry`` when there is no such table).
        """
        if self._execution_column is None:
            names = set(
                self.db.scalar(
                    "SELECT array_agg(column_name::text) FROM information_schema.columns "
                    "WHERE table_schema = 'attune' AND table_name = 'inquiry'"
                )
                or ()
            )
            column = "created_by_execution" if "created_by_execution" in names else "execution"
            missing = [
                f"inquiry.{c.name}"
                for c in t.inquiry.columns
                if (column if c.name == "created_by_execution" else c.name) not in names
            ]
            if not names:
                missing = ["inquiry"]
            if missing:
                # Named as the current schema does: an older one may say ``execution``.
                raise SchemaMismatch(self.db.url, missing)
            self._execution_column = column
        return self._execution_column

    def _table(self) -> sa.Table:
        if self.execution_column == "created_by_execution":
            return t.inquiry
        columns = [
            sa.Column("execution", sa.BigInteger)
            if c.name == "created_by_execution"
            else sa.Column(c.name, c.type)
            for c in t.inquiry.columns
        ]
        return sa.Table("inquiry", sa.MetaData(schema="attune"), *columns)

    def _row(self, row: Any) -> Inquiry:
        values = dict(row)
        values["created_by_execution"] = values.pop(self.execution_column, None)
        return Inquiry.from_row(values)

    def get(self, inquiry_id: int, /) -> Inquiry:
        """The inquiry ``inquiry_id``; :class:`InquiryNotFound` if there is none."""
        inquiry_id = check_id("id", inquiry_id)
        table = self._table()
        with self.db.transaction() as conn:
            row = conn.execute(sa.select(table).where(table.c.id == inquiry_id)).mappings().first()
        if row is None:
            raise InquiryNotFound(inquiry_id)
        return self._row(row)

    def frame(
        self,
        *,
        include: Iterable[str] = (),
        limit: int | None = 1000,
        offset: int = 0,
        **filters: Unpack[InquiryFilters],
    ) -> pd.DataFrame:
        """Inquiries as a DataFrame (:data:`~attune_nb.frames.INQUIRY_COLUMNS`), newest first.

        Filters (each one value or a list; combined with AND): ``status``,
        ``execution`` (the execution that asked), ``assigned_to``, ``responded_by``,
        ``since``, ``until`` (on ``created``). An unknown filter is an
        :class:`~attune_nb.errors.InvalidFilter`, as for executions.
        ``include=["response_schema"]`` adds that column at the end. In ``response``
        the values of secret fields show as ``"***"`` (:meth:`get` has them).

        >>> db.inquiries.frame(status="pending")[["id", "execution", "status"]]
            id  execution   status
        0  392      19983  pending
        1  318      16606  pending
        2  317      16602  pending
        3  ...
        """
        include = _check_include(include)
        table = self._table()
        where = inquiry_where(dict(filters), table, self.execution_column)
        check_limit("limit", limit, none=True)
        check_limit("offset", offset, none=False)
        layout = inquiry_layout(include)
        # The schema is always read: it says which response fields are secret.
        queried = layout if "response_schema" in include else [*layout, _SCHEMA_COLUMN]
        cols = [
            table.c[self.execution_column].label("execution")
            if c.name == "execution"
            else table.c[c.name]
            for c in queried
        ]
        stmt = (
            sa.select(*cols)
            .where(*where)
            .order_by(table.c.created.desc(), table.c.id.desc())
            .offset(offset)
        )
        if limit is not None:
            stmt = stmt.limit(limit)
        frame = self.db.read(stmt, queried, desc="reading inquiries")
        frame["response"] = pd.Series(
            [
                mask_secrets(response, parse_fields(schema)) if response is not None else None
                for response, schema in zip(
                    frame["response"], frame["response_schema"], strict=True
                )
            ],
            index=frame.index,
            dtype=object,
        )
        return frame[[c.name for c in layout]]

    def count(self, **filters: Unpack[InquiryFilters]) -> int:
        """How many inquiries match the filters of :meth:`frame`.

        >>> db.inquiries.count(status="pending")
        4
        """
        table = self._table()
        stmt = (
            sa.select(sa.func.count())
            .select_from(table)
            .where(*inquiry_where(dict(filters), table, self.execution_column))
        )
        with self.db.transaction() as conn:
            return int(conn.execute(stmt).scalar_one())

    def respond(
        self,
        inquiry_id: int,
        response: Any = None,
        /,
        *,
        option: str | None = None,
        responder: int | None = None,
    ) -> Inquiry:
        """Answer a pending inquiry, as Attune does; return it, now ``responded``.

        Give either ``response``, an object that satisfies the inquiry's schema (its
        flat ``response_schema`` turned into JSON Schema: required fields enforced; a
        NULL schema accepts any object), or ``option=`` the ``ref`` of one of its
        :attr:`~attune_nb.records.Inquiry.options`, which stores that option's
        ``response``. When ``assigned_to`` is set only that identity may answer
        (``responder`` is an identity id); when it is NULL anyone may. The write is
        compare-and-set: pending -> responded only while ``timeout_at`` has not passed,
        writing ``response``, ``responded_by``, ``responded_at`` and ``updated``.

        On a database attune_nb did not create this needs ``allow_writes=True`` and
        warns :class:`~attune_nb.errors.DatabaseOnlyWarning`: the waiting workflow task
        is released by a message Attune's API publishes, not by the row.

        Raises :class:`InquiryNotFound`, :class:`InquiryClosed`, :class:`InvalidResponse`
        (``messages`` name each field and its problem; secret values show as ``***``; also
        when the database itself refuses the write, without quoting the row),
        :class:`~attune_nb.errors.WritesNotAllowed`; a refusal writes nothing.

        >>> db.inquiries.respond(392, option="ignore").response
        {'action': 'ignore', 'notify_oncall': False}
        """
        inquiry_id = check_id("id", inquiry_id)
        if responder is not None:
            responder = check_id("responder", responder)
        if option is not None and not isinstance(option, str):
            raise ConfigurationError("option", option, "the ref of one of the inquiry's options")
        if option is not None and response is not None:
            raise ConfigurationError(
                "option", option, "either a response or option=, not both (an option is a response)"
            )
        inquiry = self.get(inquiry_id)
        if inquiry.status != "pending":
            raise InquiryClosed(inquiry.id, inquiry.status, f"it is {inquiry.status}")
        messages: list[str] = []
        refused: Any = response
        if option is not None:
            chosen = inquiry.option(option)
            if chosen is None:
                refused = option
                messages.append(f"option: {option!r} is not " + _options_phrase(inquiry))
            else:
                response = copy.deepcopy(chosen.response)
                refused = response
                messages += validate_response(inquiry, response)
        elif response is None:
            refs = ", ".join(o.ref for o in inquiry.options)
            messages.append(
                "response: missing: give a response object"
                + (f", or option= ({refs})" if refs else " (this inquiry has no options)")
            )
        else:
            messages += validate_response(inquiry, response)
        if inquiry.assigned_to is not None and responder != inquiry.assigned_to:
            who = "nobody (pass responder=…)" if responder is None else f"identity {responder}"
            messages.append(
                f"responder: only the assignee (identity {inquiry.assigned_to}) may respond, "
                f"not {who}"
            )
        if responder is not None and not self.db.scalar(
            "SELECT EXISTS (SELECT 1 FROM attune.identity WHERE id = :id)", id=responder
        ):
            messages.append(f"responder: there is no identity {responder}")
        if messages:
            raise InvalidResponse(inquiry.id, mask_secrets(refused, inquiry.fields), messages)
        self.db.check_write("respond", unheard=UNHEARD)
        table = self._table()
        stmt = (
            table.update()
            .where(
                table.c.id == inquiry.id,
                table.c.status == "pending",
                sa.or_(table.c.timeout_at.is_(None), table.c.timeout_at > sa.func.now()),
            )
            .values(
                status="responded",
                response=response,
                responded_at=sa.func.now(),
                responded_by=responder,
                updated=sa.func.now(),
            )
            .returning(*table.c)
        )
        refused_by_database: InvalidResponse | None = None
        try:
            # A tracer (db.tracer) sees the response as ***: it may hold secret fields.
            with self.db.hiding("response"), self.db.transaction() as conn:
                row = conn.execute(stmt).mappings().first()
                if row is None:
                    now = conn.execute(
                        sa.select(
                            table.c.status, table.c.timeout_at, sa.func.now().label("now")
                        ).where(table.c.id == inquiry.id)
                    ).first()
        except DBAPIError as exc:
            # A refusal the driver table does not know (a constraint or trigger of a real
            # Attune database) quotes the failing row and the statement's parameters: the
            # response, secrets included. Say why without them, and keep no link to the
            # raw error (raised below, outside this block, it has no __context__).
            refused_by_database = InvalidResponse(
                inquiry.id,
                mask_secrets(response, inquiry.fields),
                [f"response: the database refused it: {_refusal(exc, response, inquiry.fields)}"],
            )
        if refused_by_database is not None:
            raise refused_by_database
        if row is not None:
            return self._row(row)
        if now is None:
            raise InquiryNotFound(inquiry.id)
        if now.status != "pending":
            raise InquiryClosed(inquiry.id, str(now.status), f"it is {now.status}")
        raise InquiryClosed(
            inquiry.id, "pending", f"it timed out at {now.timeout_at:%Y-%m-%d %H:%M:%S %Z}"
        )


def _refusal(exc: DBAPIError, response: Any, fields: tuple[InquiryField, ...]) -> str:
    """The first line of the server's message and its SQLSTATE, no secret value in it."""
    lines = str(exc.orig if exc.orig is not None else exc).strip().splitlines()
    text = lines[0].strip() if lines else type(exc).__name__
    if isinstance(response, dict):
        for f in fields:
            value = response.get(f.name) if f.secret else None
            if value is not None and str(value):
                text = text.replace(str(value), SECRET_MASK)
    code = getattr(exc.orig, "pgcode", None)
    where = f" (SQLSTATE {code})" if code else ""
    return f"{text}{where}; nothing was written"


def _options_phrase(inquiry: Inquiry) -> str:
    refs = [o.ref for o in inquiry.options]
    if not refs:
        return "an option: this inquiry has none; give a response object"
    return "one of the options " + ", ".join(refs)


def _check_include(include: Iterable[str]) -> tuple[str, ...]:
    return check_include(include, INQUIRY_JSON_COLUMNS)


def validate_response(inquiry: Inquiry, response: Any) -> list[str]:
    """What is wrong with ``response`` for ``inquiry`` (empty when it is fine), as Attune checks.

    The response must be an object satisfying the inquiry's
    :attr:`~attune_nb.records.Inquiry.validation_schema`. Each message names the field
    (``response`` for the whole object) and the problem; a secret field's value shows
    as ``***``. Options are not consulted: an option is chosen by its ref.

    >>> from attune_nb.records import Inquiry
    >>> asked = Inquiry(1, 2, "Ship?", "pending", response_schema={
    ...     "approved": {"type": "boolean", "required": True},
    ...     "pin": {"type": "integer", "secret": True}})
    >>> validate_response(asked, {"pin": "1234"})
    ['approved: required but missing', "pin: *** is not of type 'integer'"]
    """
    fields = inquiry.fields
    if not isinstance(response, dict):
        kind = "null" if response is None else type(response).__name__
        message = f"response: must be an object of field values, not {kind}"
        if isinstance(response, str) and inquiry.option(response) is not None:
            message += f"; to choose the option {response!r} pass option={response!r}"
        return [message]
    schema = inquiry.validation_schema
    if schema is None:
        return []
    import jsonschema  # here: its import takes seconds, and few inquiries need it

    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as exc:
        return [
            f"response_schema: the inquiry's schema is not valid ({exc.message}); it cannot "
            "be answered until the schema is fixed"
        ]
    secret = {f.name for f in fields if f.secret}
    secret_values = [repr(response[name]) for name in secret if name in response]
    found: list[tuple[tuple[Any, ...], str]] = []
    for error in cls(schema).iter_errors(response):
        path = list(error.absolute_path)
        problem = None
        if error.validator == "required":
            missing = next(
                (
                    n
                    for n in error.validator_value
                    if error.message == f"{n!r} is a required property"
                ),
                None,
            )
            if missing is not None:
                path, problem = [*path, missing], "required but missing"
        if problem is None:
            problem = _problem(error, path, secret, secret_values, fields)
        found.append((_order(path, fields), f"{_where(path)}: {problem}"))
    return [message for _, message in sorted(found)]


def _order(path: list[Any], fields: tuple[InquiryField, ...]) -> tuple[Any, ...]:
    """Sort key of a message: the whole object first, then fields in display order."""
    if not path:
        return (-1,)
    rank = next((i for i, f in enumerate(fields) if f.name == path[0]), len(fields))
    return (rank, *(str(p) for p in path))


def _where(path: list[Any]) -> str:
    """``reason``, ``tags[0]``, ``address.city``; ``response`` for the whole object."""
    if not path:
        return "response"
    text = str(path[0])
    for part in path[1:]:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def _problem(
    error: Any, path: list[Any], secret: set[str], secret_values: list[str], fields: Any
) -> str:
    """The error's message, with no secret value left in it."""
    message = str(error.message)
    shown = repr(error.instance)
    if path and path[0] in secret:
        if message.startswith(shown):
            return SECRET_MASK + message[len(shown) :]
        return f"the (secret) value fails {error.validator!r}"
    if not path:
        message = message.replace(shown, repr(mask_secrets(error.instance, fields)))
        if any(value in message for value in secret_values):
            return f"the response fails {error.validator!r}"
    return message
