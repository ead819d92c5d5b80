"""Shared test set-up: offscreen Qt, no network, small temp projects."""

from __future__ import annotations

import os

# Before anything imports Qt.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OMP_NUM_THREADS", "1")


# --- both store backends (a project file; a PostgreSQL database): tests/support/backends.py ----
import pytest


def _need_server() -> None:
    """Skip, saying why, where no PostgreSQL server is reachable (the one place that does)."""
    from tests.support.backends import unavailable

    why = unavailable()
    if why is not None:
        pytest.skip(why)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    """``"sqlite"`` or ``"postgresql"`` (skipped with the reason when no server is available)."""
    if request.param == "postgresql":
        _need_server()
    return str(request.param)


@pytest.fixture
def server_url():  # type: ignore[no-untyped-def]
    """The URL of a new, empty database on the test server, dropped afterwards (tests that
    only make sense on a server; mark them ``postgres``)."""
    _need_server()
    from tests.support.backends import fresh_database

    with fresh_database() as url:
        yield url


@pytest.fixture
def project_target(backend: str, tmp_path):  # type: ignore[no-untyped-def]
    """Where to create a project on ``backend``: a file path, or the URL of a new database."""
    if backend == "sqlite":
        yield str(tmp_path / "proj.posestudio")
        return
    from tests.support.backends import fresh_database

    with fresh_database() as url:
        yield url


@pytest.hookimpl(trylast=True)  # after -k / -m have deselected what does not run
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Start the mypy check in the background as soon as it is known to run (see
    ``tests/test_code_quality.py``); its test collects the result."""
    if any(item.name == "test_mypy_is_clean" for item in items):
        from tests.test_code_quality import start_mypy

        start_mypy()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A background mypy whose test never ran (stopped with -x, interrupted) is ended."""
    from tests import test_code_quality

    for proc in test_code_quality._MYPY:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
