"""Migrations: a single head, and the models match what the migrations build."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from app.extensions import db

MIGRATIONS = Path(__file__).resolve().parent.parent.parent / "migrations"


def test_single_head() -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    heads = ScriptDirectory.from_config(config).get_heads()
    assert len(heads) == 1, f"Alembic has several heads: {heads}"


def test_every_revision_has_a_message() -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    for revision in ScriptDirectory.from_config(config).walk_revisions():
        assert revision.doc and len(revision.doc) > 10, revision.revision


def test_models_match_migrations(empty_db) -> None:
    with empty_db.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, db.metadata)
    assert diff == [], diff
