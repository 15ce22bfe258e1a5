"""A case that is gone by the time a handler's change is saved (closed and purged in between): the handler is
told, as for any case they cannot see, and nothing fails."""

from __future__ import annotations

from tests.storage.test_case_concurrency import DSL, REF
from tests.storage.test_case_concurrency import handlers as handlers  # noqa: F401


async def test_an_acknowledgement_that_finds_the_case_gone_meanwhile_says_so(bot, handlers, monkeypatch):  # noqa: F811
    store = bot.store
    read_case = store.get_case
    gone = False

    async def save_lost_to_a_purge(*args, **kwargs) -> bool:
        nonlocal gone
        gone = True  # the case changed under this press, then was purged
        return False

    async def get_case(school_id: str, reference: str):
        return None if gone else await read_case(school_id, reference)

    monkeypatch.setattr(store, "update_case", save_lost_to_a_purge)
    monkeypatch.setattr(store, "get_case", get_case)
    await handlers[DSL].pick(f"case:{REF}:ack")
    assert gone
    assert handlers[DSL].keys == ["case.not_found"]
