"""Shared fixtures: a database per test on SQLite and PostgreSQL, a manual clock, an engine.

`db` is parametrized over both databases. SQLite tests copy a migrated template file;
PostgreSQL tests share one freshly migrated schema per run and truncate it between tests.
When no PostgreSQL server answers at 127.0.0.1:5432 the PostgreSQL variants skip and say so.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

import workflows
from engine import Database, Engine, ManualClock
from engine.demo.people import seed_demo_users
from engine.models import Base

#: A fixed data key for the suite (personal fields are encrypted at rest; see engine/privacy/vault.py).
TEST_DATA_KEY = "test:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
DATA_KEY = os.environ.setdefault("WAYPOINT_DATA_KEY", TEST_DATA_KEY)

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "engine" / "fixtures"
PG_ADMIN_URL = os.environ.get("WAYPOINT_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _postgres_problem() -> str | None:
    try:
        engine = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
    except Exception as exc:  # any failure means: no usable server here
        return f"PostgreSQL not reachable at {PG_ADMIN_URL}: {str(exc).splitlines()[0]}"
    return None


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    db = Database(f"sqlite:///{path}")
    db.upgrade()
    db.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    problem = _postgres_problem()
    if problem:
        pytest.skip(problem)
    schema = f"wp_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{PG_ADMIN_URL}?options=-csearch_path%3D{schema}"
    db = Database(url)
    db.upgrade()
    db.dispose()
    yield url
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def _truncate_all(db: Database) -> None:
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with db.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated, empty database: SQLite file or PostgreSQL schema."""
    if request.param == "sqlite":
        path = tmp_path / "waypoint.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        database = Database(f"sqlite:///{path}")
    else:
        database = Database(request.getfixturevalue("postgres_url"))
        _truncate_all(database)
    yield database
    database.dispose()


@pytest.fixture
def sqlite_db(tmp_path: Path, sqlite_template: Path) -> Iterator[Database]:
    """A migrated SQLite database, for tests that are about SQLite itself."""
    path = tmp_path / "waypoint.db"
    shutil.copy(sqlite_template, path)
    database = Database(f"sqlite:///{path}")
    yield database
    database.dispose()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def engine_options(**options: Any) -> dict[str, Any]:
    """Engine arguments as the composition roots give them: the `workflows` glue and the suite's data key."""
    return {"glue": workflows.registry(), "data_key": DATA_KEY, **options}


def make_engine(**options: Any) -> Engine:
    """An engine wired like the app's (`options` override: clock, helpers, data_key...)."""
    return Engine(**engine_options(**options))


@pytest.fixture
def engine(clock: ManualClock) -> Engine:
    return make_engine(clock=clock)


@pytest.fixture
def people(db: Database, clock: ManualClock) -> Database:
    """The demo org chart in `db` (jdoe → msmith → dlee, one user per role)."""
    with db.transaction() as session:
        seed_demo_users(session, clock.now(), password=None)
    return db


#: Debian's Chromium and the flags every browser test launches it with (tests/browser, tests/identity)
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    """One headless Chromium for the whole run: Playwright's sync API allows one driver at a time."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        yield browser
        browser.close()
