from __future__ import annotations

from collections.abc import Iterator

import pytest

from reports_app.database import Database


@pytest.fixture(scope="session", autouse=True)
def _close_app_databases(database_dsn: str) -> Iterator[None]:
    """The Streamlit app caches its Database (a pool on its own thread); close them before the test
    database is dropped."""
    yield
    for db in list(Database.instances):
        db.close()
