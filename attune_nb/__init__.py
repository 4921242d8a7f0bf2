"""attune_nb: a Jupyter-first analysis and operations toolkit over an Attune database.

>>> import attune_nb
>>> db = attune_nb.connect()          # doctest: +SKIP
"""

from __future__ import annotations

from attune_nb.db import Database, connect
from attune_nb.errors import (
    AttuneNbError,
    ConfigurationError,
    DatabaseUnavailable,
    InvalidFilter,
    MigrationError,
    NotebookError,
    ReadOnlyError,
    SchemaMismatch,
    SchemaMissing,
    SeedError,
)

__all__ = [
    "AttuneNbError",
    "ConfigurationError",
    "Database",
    "DatabaseUnavailable",
    "InvalidFilter",
    "MigrationError",
    "NotebookError",
    "ReadOnlyError",
    "SchemaMismatch",
    "SchemaMissing",
    "SeedError",
    "connect",
]

__version__ = "0.1.0"
