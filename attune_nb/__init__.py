"""attune_nb: a Jupyter-first analysis and operations toolkit over an Attune database.

>>> import attune_nb
>>> db = attune_nb.connect()      # $ATTUNE_DB_URL, else the embedded demo database
>>> db.executions.count(status="failed")
1183
"""

from __future__ import annotations

from attune_nb.db import Database, connect
from attune_nb.errors import (
    AttuneNbError,
    AttuneNbWarning,
    ConfigurationError,
    DatabaseOnlyWarning,
    DatabaseUnavailable,
    DiskFull,
    ExecutionNotFound,
    InquiryClosed,
    InquiryNotFound,
    InvalidFilter,
    InvalidResponse,
    InvalidStatus,
    InvalidTransition,
    MigrationError,
    NotebookError,
    NotFound,
    QueryCancelled,
    ReadOnlyError,
    SchemaMismatch,
    SchemaMissing,
    SeedError,
    SkippedRowsWarning,
    StaleUpdate,
    WritesNotAllowed,
)
from attune_nb.hierarchy import ExecutionNode
from attune_nb.lifecycle import ExecutionStatus
from attune_nb.records import Execution, Inquiry, InquiryField, InquiryOption, Trace
from attune_nb.repository import Cancellation

__all__ = [
    "AttuneNbError",
    "AttuneNbWarning",
    "Cancellation",
    "ConfigurationError",
    "Database",
    "DatabaseOnlyWarning",
    "DatabaseUnavailable",
    "DiskFull",
    "Execution",
    "ExecutionNode",
    "ExecutionNotFound",
    "ExecutionStatus",
    "Inquiry",
    "InquiryClosed",
    "InquiryField",
    "InquiryNotFound",
    "InquiryOption",
    "InvalidFilter",
    "InvalidResponse",
    "InvalidStatus",
    "InvalidTransition",
    "MigrationError",
    "NotFound",
    "NotebookError",
    "QueryCancelled",
    "ReadOnlyError",
    "SchemaMismatch",
    "SchemaMissing",
    "SeedError",
    "SkippedRowsWarning",
    "StaleUpdate",
    "Trace",
    "WritesNotAllowed",
    "connect",
]

__version__ = "0.1.0"
