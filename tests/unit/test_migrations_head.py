from alembic.script import ScriptDirectory

from smmpanel.store.migrate import SCHEMA_HEAD, alembic_config


def test_schema_head_constant_matches_alembic():
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert script.get_current_head() == SCHEMA_HEAD
