"""Fixtures: one throwaway embedded PostgreSQL per test session, a database per test.

The session owns the server (a temporary data directory, deleted at exit); each
``db`` test gets its own copy of the migrated template, so tests never see each
other's rows. Nothing here is mocked.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import attune_nb
from attune_nb.embedded import ENV_HOME, EmbeddedServer
from attune_nb.testing import ThrowawayServer, shared_server

_names = itertools.count(1)
_HOME = Path(tempfile.mkdtemp(prefix="attune_nb_home_"))


def pytest_configure(config: pytest.Config) -> None:
    # No test may start a server in the clone's (or the developer's) embedded home.
    os.environ[ENV_HOME] = str(_HOME)


def pytest_unconfigure(config: pytest.Config) -> None:
    EmbeddedServer(_HOME).destroy()


@pytest.fixture(scope="session")
def pg() -> ThrowawayServer:
    """The session's embedded server."""
    return shared_server()


def _fresh(pg: ThrowawayServer, *, migrated: bool) -> Iterator[str]:
    name = f"t{next(_names)}"
    url = pg.create_database(migrated=migrated, name=name)
    yield url
    pg.drop_database(name)


@pytest.fixture
def db_url(pg: ThrowawayServer) -> Iterator[str]:
    """URL of a new migrated database, dropped after the test."""
    yield from _fresh(pg, migrated=True)


@pytest.fixture
def empty_url(pg: ThrowawayServer) -> Iterator[str]:
    """URL of a new database with no ``attune`` schema, dropped after the test."""
    yield from _fresh(pg, migrated=False)


@pytest.fixture
def db(db_url: str) -> Iterator[attune_nb.Database]:
    """A connected, migrated, empty database of this test's own."""
    database = attune_nb.connect(db_url)
    yield database
    database.close()
