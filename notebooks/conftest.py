"""nbval runs these notebooks as tests against a throwaway, seeded database.

The pytest process owns the server; kernels started by nbval inherit
``ATTUNE_DB_URL`` from this process, so no notebook ever starts a server itself
(nbval kills kernels with SIGKILL, which would leave one running).
"""

from __future__ import annotations

import os

import pytest

from attune_nb.demo import DEMO_EXECUTIONS, DEMO_SEED
from attune_nb.testing import shared_server


def pytest_sessionstart(session: pytest.Session) -> None:
    # The stored outputs were produced on the demo data set: same size, same seed.
    url = shared_server().create_seeded_database(
        executions=DEMO_EXECUTIONS, seed=DEMO_SEED, name="notebooks"
    )
    os.environ["ATTUNE_DB_URL"] = url
