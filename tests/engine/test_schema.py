"""The schema: Alembic migrations and engine/models/ describe the same tables and indexes."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from engine.models import Base


def test_migrations_build_exactly_the_models(db):
    """`waypoint db upgrade` builds what the models declare, partial indexes included: Alembic's
    autogenerate comparison finds nothing to change, on SQLite and PostgreSQL."""
    with db.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
