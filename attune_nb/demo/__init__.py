"""Demo data: a realistic, deterministic Attune execution history (:func:`seed`).

:mod:`.catalogue` holds what it is made of, :mod:`.simulation` simulates it in numpy
without a database, and :mod:`.load` writes it with COPY.
"""

from __future__ import annotations

from attune_nb.demo.catalogue import ANCHOR, DEMO_EXECUTIONS, DEMO_SEED, WINDOW
from attune_nb.demo.load import (
    MIN_EXECUTIONS,
    SEED_PHASES,
    SeedReport,
    seed,
)

__all__ = [
    "ANCHOR",
    "DEMO_EXECUTIONS",
    "DEMO_SEED",
    "MIN_EXECUTIONS",
    "SEED_PHASES",
    "WINDOW",
    "SeedReport",
    "seed",
]
