"""Inquiries: the human-in-the-loop questions executions ask, and answering them.

Responding is compare-and-set, as in Attune: pending -> responded only while
``timeout_at`` has not passed, after the response passed the inquiry's
``response_schema`` and ``response_options``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Unpack

import pandas as pd
import sqlalchemy as sa

from attune_nb import schema as t
from attune_nb.errors import (
    InquiryClosed,
    InquiryNotFound,
    InvalidFilter,
    InvalidResponse,
)
from attune_nb.filters import InquiryFilters, check_id, inquiry_where
from attune_nb.frames import INQUIRY_COLUMNS
from attune_nb.records import Inquiry

if TYPE_CHECKING:
    from attune_nb.engine import Engine

__all__ = ["InquiryRepository", "validate_response"]


# Keys of an object response that name the chosen option, checked against response_options.
CHOICE_KEYS = ("choice", "option", "answer")


class InquiryRepository:
    """Inquiries: ``frame``, ``get``, ``respond``. Get it from ``db.inquiries``."""

    def __init__(self, db: Engine) -> None:
        self.db = db
        self._execution_column: str | None = None

    def __repr__(self) -> str:
        return f"<InquiryRepository {self.db.url}>"

    @property
    def execution_column(self) -> str:
        """``created_by_execution``, or ``execution`` in older Attune schemas (probed once)."""
        if self._execution_column is None:
            names = (
                self.db.scalar(
                    "SELECT array_agg(column_name::text) FROM information_schema.columns "
                    "WHERE table_schema = 'attune' AND table_name = 'inquiry'"
                )
                or []
            )
            self._execution_column = (
                "created_by_execution" if "created_by_execution" in names else "execution"
            )
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
        self, *, limit: int | None = 1000, offset: int = 0, **filters: Unpack[InquiryFilters]
    ) -> pd.DataFrame:
        """Inquiries as a DataFrame (:data:`~attune_nb.frames.INQUIRY_COLUMNS`), newest first.

        Filters (each one value or a list; combined with AND): ``status``,
        ``execution`` (the execution that asked), ``assigned_to``, ``responded_by``,
        ``since``, ``until`` (on ``created``). An unknown filter is an
        :class:`~attune_nb.errors.InvalidFilter`, as for executions.

        >>> db.inquiries.frame(status="pending")[["id", "execution", "status"]]
            id  execution   status
        0  392      19983  pending
        1  318      16606  pending
        2  317      16602  pending
        3  ...
        """
        table = self._table()
        where = inquiry_where(dict(filters), table, self.execution_column)
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or limit < 0
        ):
            raise InvalidFilter("limit", limit, "a whole number >= 0, or None")
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise InvalidFilter("offset", offset, "a whole number >= 0")
        cols = [
            table.c[self.execution_column].label("execution")
            if c.name == "execution"
            else table.c[c.name]
            for c in INQUIRY_COLUMNS
        ]
        stmt = (
            sa.select(*cols)
            .where(*where)
            .order_by(table.c.created.desc(), table.c.id.desc())
            .offset(offset)
        )
        if limit is not None:
            stmt = stmt.limit(limit)
        return self.db.read(stmt, INQUIRY_COLUMNS, desc="reading inquiries")

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
        self, inquiry_id: int, response: Any, /, *, responder: int | None = None
    ) -> Inquiry:
        """Answer a pending inquiry; return it, now ``responded``.

        The response must satisfy the inquiry's ``response_schema`` (JSON Schema) and,
        when it is a plain value (or an object with a ``choice``/``option``/``answer``
        key), be one of ``response_options``. Only the assignee may answer an assigned
        inquiry (``responder`` is an identity id). The write is compare-and-set:
        pending -> responded only while ``timeout_at`` has not passed.

        Raises :class:`InquiryNotFound`, :class:`InquiryClosed`, :class:`InvalidResponse`.
        """
        inquiry = self.get(inquiry_id)
        if responder is not None:
            responder = check_id("responder", responder)
        if inquiry.status != "pending":
            raise InquiryClosed(inquiry.id, inquiry.status, f"it is {inquiry.status}")
        messages = validate_response(inquiry, response)
        if inquiry.assigned_to is not None and responder != inquiry.assigned_to:
            who = "nobody (pass responder=…)" if responder is None else f"identity {responder}"
            messages.append(
                f"only the assignee (identity {inquiry.assigned_to}) may respond, not {who}"
            )
        if responder is not None and not self.db.scalar(
            "SELECT EXISTS (SELECT 1 FROM attune.identity WHERE id = :id)", id=responder
        ):
            messages.append(f"there is no identity {responder}")
        if messages:
            raise InvalidResponse(inquiry.id, response, messages)
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
            )
            .returning(*table.c)
        )
        with self.db.transaction() as conn:
            row = conn.execute(stmt).mappings().first()
            if row is None:
                now = conn.execute(
                    sa.select(table.c.status, table.c.timeout_at, sa.func.now().label("now")).where(
                        table.c.id == inquiry.id
                    )
                ).first()
        if row is not None:
            return self._row(row)
        if now is None:
            raise InquiryNotFound(inquiry.id)
        if now.status != "pending":
            raise InquiryClosed(inquiry.id, str(now.status), f"it is {now.status}")
        raise InquiryClosed(
            inquiry.id, "pending", f"it timed out at {now.timeout_at:%Y-%m-%d %H:%M:%S %Z}"
        )


def validate_response(inquiry: Inquiry, response: Any) -> list[str]:
    """What is wrong with ``response`` for ``inquiry`` (empty when it is fine)."""
    import jsonschema

    messages: list[str] = []
    if inquiry.response_schema:
        validator = jsonschema.Draft202012Validator(inquiry.response_schema)
        messages += [
            error.message
            for error in sorted(validator.iter_errors(response), key=lambda e: list(e.path))
        ]
    options = inquiry.response_options or []
    if options:
        chosen: Any = None
        if isinstance(response, dict):
            key = next((k for k in CHOICE_KEYS if k in response), None)
            chosen = response[key] if key else None
        elif not isinstance(response, list):
            chosen = response
        if chosen is not None and chosen not in options:
            messages.append(f"{chosen!r} is not one of the options {options}")
    return messages
