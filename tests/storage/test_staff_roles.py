"""Several roles per person (migration 14): kept on both stores, and today's directories carried over."""

from __future__ import annotations

import pytest

import bot.store.migrations as migrations_module
from bot.cases.routing import route_case
from bot.core.models import Role, StaffMember
from bot.store import PostgresStore, SQLiteStore
from testing.keys import TEST_RECORD_KEY
from tests.conftest import POSTGRES_URL, postgres_schema, run_sql


async def test_every_role_of_a_person_is_stored_and_read_back(store):
    head = StaffMember(user="slack:UHEAD", roles=[Role.HEADTEACHER, Role.DSL], name="Alex Morgan")
    await store.upsert_staff(head)
    assert (await store.get_staff("default", "slack:UHEAD")).roles == [Role.HEADTEACHER, Role.DSL]
    await store.upsert_staff(head.model_copy(update={"roles": [Role.DSL]}))
    (listed,) = await store.list_staff("default")
    assert listed.roles == [Role.DSL] and listed.has(Role.DSL) and not listed.has(Role.HEADTEACHER)


def test_one_role_given_the_old_way_is_read_as_a_list():
    assert StaffMember(user="console:a", role=Role.DSL, name="A B").roles == [Role.DSL]
    assert StaffMember(user="console:a", roles=[Role.DSL, Role.DSL, Role.STAFF], name="A B").roles == [
        Role.DSL,
        Role.STAFF,
    ]


OLD_ROWS = [("slack:UHEAD", "headteacher", "Alex Morgan"), ("slack:UDSL", "dsl", "Dana Lee"),
            ("slack:UCHAIR", "chair_of_governors", "Chris Wood")]


async def _old_directory(kind: str, tmp_path, monkeypatch, schema: str | None):
    """A database as today's code (migrations 1 to 10) leaves it, with a staff directory in it."""
    monkeypatch.setattr(migrations_module, "MIGRATIONS", [m for m in migrations_module.MIGRATIONS if m[0] < 11])
    store_class = SQLiteStore if kind == "sqlite" else PostgresStore

    async def no_key(self) -> None:  # no record key before migration 20
        return None
    monkeypatch.setattr(store_class, "_settle_record_key", no_key)
    old = SQLiteStore(tmp_path / "old.db") if kind == "sqlite" else PostgresStore(POSTGRES_URL, schema=schema)
    await old.open()
    for user, role, name in OLD_ROWS:
        run_sql(
            old, 'INSERT INTO staff (school_id, "user", role, name) VALUES (?, ?, ?, ?)', ["default", user, role, name]
        )
    await old.close()
    monkeypatch.undo()
    new = SQLiteStore(tmp_path / "old.db") if kind == "sqlite" else PostgresStore(POSTGRES_URL, schema=schema,
                                                                                    record_key=TEST_RECORD_KEY)
    await new.open()
    return new


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
async def test_migration_11_keeps_a_directory_made_by_earlier_code(kind, tmp_path, monkeypatch):
    if kind == "postgres" and not POSTGRES_URL:
        pytest.skip("PostgreSQL store not tested: set OSB_TEST_POSTGRES_URL")

    async def check(schema: str | None) -> None:
        store = await _old_directory(kind, tmp_path, monkeypatch, schema)
        try:
            staff = await store.list_staff("default")
            assert {m.user: m.roles for m in staff} == {
                "slack:UHEAD": [Role.HEADTEACHER], "slack:UDSL": [Role.DSL], "slack:UCHAIR": [Role.CHAIR_OF_GOVERNORS]}
            routing = route_case(["allegation"], {"allegation_about": "headteacher"}, "slack:UT", staff, [])
            assert {r.user for r in routing.routes} == {"slack:UDSL", "slack:UCHAIR"}
            # The head is then also made the DSL, on the migrated table.
            await store.upsert_staff(StaffMember(user="slack:UHEAD", roles=[Role.HEADTEACHER, Role.DSL],
                                                 name="Alex Morgan"))
            assert (await store.get_staff("default", "slack:UHEAD")).roles == [Role.HEADTEACHER, Role.DSL]
        finally:
            await store.close()

    if kind == "sqlite":
        await check(None)
    else:
        async with postgres_schema() as schema:
            await check(schema)
