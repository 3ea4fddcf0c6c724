"""The demo ERP's own Alembic chain: adopts the tables the core's 0001/0002 made, creates them elsewhere."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from actions.backend import demo, schema
from bot import db
from ops import migrate

ERP_TABLES = {"branches", "products", "stock", "customers", "distributors", "orders", "order_items", "tickets"}


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'erp.db'}"
    yield url
    db.dispose(url)


def _tables(url: str) -> set[str]:
    return set(inspect(db.get_engine(url)).get_table_names())


def core_head() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(migrate.alembic_config("sqlite://")).get_current_head()


def _version(url: str, table: str) -> str:
    with db.get_engine(url).connect() as conn:
        return conn.scalar(text(f"SELECT version_num FROM {table}"))


def test_an_existing_0002_database_keeps_its_tables_and_data(url: str) -> None:
    migrate.upgrade_core(url, "0002")  # a database as every deployment had it before the split
    assert demo.seed(url) is True
    with db.get_engine(url).begin() as conn:
        conn.execute(text("UPDATE orders SET delay_code = 'weather' WHERE id = 'PED-10235'"))
    assert "backend_alembic_version" not in _tables(url)
    migrate.upgrade(url)
    assert _version(url, schema.VERSION_TABLE) == "b0001"
    assert _version(url, "alembic_version") == core_head()  # the core moves on to its head
    with db.get_engine(url).connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM orders")) == 22
        assert conn.scalar(text("SELECT delay_code FROM orders WHERE id = 'PED-10235'")) == "weather"
        assert conn.scalar(text("SELECT count(*) FROM tickets")) == 5
    command.check(schema.alembic_config(url))  # the adopted tables are what the ERP's models say
    migrate.upgrade(url)  # and again: nothing to do


def test_a_fresh_database_gets_the_erp_tables_from_the_erp_chain_alone(url: str) -> None:
    schema.upgrade(url)
    assert _tables(url) == ERP_TABLES | {schema.VERSION_TABLE}  # none of the core's
    command.check(schema.alembic_config(url))  # same shape as the models, delay_code included
    assert demo.seed(url) is True
    with db.get_engine(url).begin() as conn:
        with pytest.raises(IntegrityError):  # the delay code's CHECK came along
            conn.execute(text("UPDATE orders SET delay_code = 'because'"))


def test_a_fresh_database_migrated_by_ops_has_both_chains_at_head(url: str) -> None:
    migrate.upgrade(url)
    assert ERP_TABLES | {"contacts", "conversations", "messages"} <= _tables(url)
    assert (_version(url, "alembic_version"), _version(url, schema.VERSION_TABLE)) == (core_head(), "b0001")
    command.check(migrate.alembic_config(url))
    command.check(schema.alembic_config(url))
    migrate.downgrade(url)
    assert _tables(url) == {"alembic_version", schema.VERSION_TABLE}


def test_the_erp_chain_can_be_taken_down_and_up_again_alone(url: str) -> None:
    schema.upgrade(url)
    schema.downgrade(url)
    assert _tables(url) == {schema.VERSION_TABLE}
    schema.upgrade(url)
    assert ERP_TABLES <= _tables(url)
