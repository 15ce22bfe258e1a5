"""A case handler opening the chat with several cases waiting: the list first, each case a line with a button,
and only the cards that need them now after it (urgent, or an allegation they manage; at most two, most urgent
first). The other waiting cards are not shown, nor sent again: each is one press away on the list, and in My
cases. Reports are made in the console chat, as staff make them."""

from __future__ import annotations

from bot.core.models import CaseStatus
from testing.chat import Chat
from tests.cases.test_digest import REF, calendar_file, scheduler, settings  # noqa: F401  (fixtures)
from tests.cases.test_scheduler import ALLEGATION_ABOUT_HEAD, FRIDAY_NIGHT, URGENT_REPORT, at, report
from tests.cases.test_triage import ALLEGATION, OLDEST, URGENT, three_reports

FIVE = [f"OSB-2026-000{n}" for n in range(1, 6)]


async def five_cases_at_eight(bot, clock, scheduler) -> None:  # noqa: F811
    """The morning digest's five cases: 0001 picked up on Sunday, an allegation about the head (0002), an urgent
    one (0003) and two more; then 8:00 on Monday, when the digest is queued."""
    await report(bot, clock, FRIDAY_NIGHT)
    await report(bot, clock, at("2026-11-21 10:00"), ALLEGATION_ABOUT_HEAD)
    await report(bot, clock, at("2026-11-21 11:00"), URGENT_REPORT)
    await report(bot, clock, at("2026-11-21 12:00"))
    await report(bot, clock, at("2026-11-22 19:00"))
    clock.now = at("2026-11-22 20:00")
    await Chat(bot, "console:dsl").pick(f"case:{REF}:ack")
    await scheduler.tick(at("2026-11-23 08:00"))
    clock.now = at("2026-11-23 08:05")


def cards(chat: Chat) -> list[str]:
    return [r.card.reference for r in chat.last if r.card]


async def test_five_cases_open_as_the_list_and_the_urgent_card_only(bot, clock, scheduler):  # noqa: F811
    await five_cases_at_eight(bot, clock, scheduler)
    dsl = Chat(bot, "console:dsl")
    await dsl.open()
    # the waiting digest, drawn now, is the list; then the urgent case's card, which says all the alert sent while
    # it was being reported said (its guidance, and that it is urgent), so not the alert as well; no other card
    assert dsl.keys == ["digest.morning", "case.new_card", "menu.ask"]
    assert "Possible sexual images of an under-18" in str(dsl.reply("case.new_card").card)  # what the alert said
    assert cards(dsl) == ["OSB-2026-0003"]
    listed = dsl.reply("digest.morning")
    assert [c.id for c in listed.choices][:5] == [f"case:{r}:show" for r in (
        "OSB-2026-0003", "OSB-2026-0002", "OSB-2026-0001", "OSB-2026-0004", "OSB-2026-0005")]
    assert await bot.store.waiting_notifications("default", "console:dsl") == []  # shown as lines: not sent again
    again = Chat(bot, "console:dsl")
    await again.open()
    assert cards(again) == [] and again.keys[0] == "case.list_handling"


async def test_a_case_whose_card_was_not_shown_is_one_press_away_and_in_my_cases(bot, clock, scheduler):  # noqa: F811
    await five_cases_at_eight(bot, clock, scheduler)
    dsl = Chat(bot, "console:dsl")
    await dsl.open()
    for reference in ("OSB-2026-0002", "OSB-2026-0004", "OSB-2026-0005"):
        await dsl.pick(f"case:{reference}:show")
        assert cards(dsl) == [reference] and f"case:{reference}:ack" in dsl.choice_ids()
    await dsl.say("my cases")
    assert [c.id for c in dsl.reply("case.list_handling").choices] == [f"case:{r}:show" for r in (
        "OSB-2026-0003", "OSB-2026-0002", "OSB-2026-0001", "OSB-2026-0004", "OSB-2026-0005")]


async def test_the_one_card_shown_is_the_case_typed_actions_act_on(bot, clock, scheduler):  # noqa: F811
    await five_cases_at_eight(bot, clock, scheduler)
    dsl = Chat(bot, "console:dsl")
    await dsl.open()
    await dsl.say("acknowledge")
    assert dsl.keys == ["case.acknowledged"]
    assert (await bot.store.get_case("default", "OSB-2026-0003")).status == CaseStatus.ACKNOWLEDGED
    assert (await bot.store.get_case("default", "OSB-2026-0004")).status == CaseStatus.NEW


async def test_without_a_digest_the_triage_list_comes_first_and_the_urgent_card_after_it(bot, clock):
    await three_reports(bot, clock)
    dsl = Chat(bot, "console:dsl")
    await dsl.open()
    assert dsl.keys == ["case.list_handling", "case.new_card", "menu.ask"]
    assert cards(dsl) == [URGENT]  # the allegation is the head's to manage, the impersonation can wait its turn
    await dsl.pick(f"case:{OLDEST}:show")
    assert cards(dsl) == [OLDEST]


async def test_the_case_manager_sees_both_allegations_they_manage_most_urgent_first(bot, clock):
    await three_reports(bot, clock)
    head = Chat(bot, "console:head")
    await head.open()
    assert head.keys == ["case.list_handling", "case.new_card", "case.new_card", "menu.ask"]
    assert cards(head) == [URGENT, ALLEGATION]


async def test_a_card_waiting_alone_is_still_shown(bot, clock):
    await report(bot, clock, FRIDAY_NIGHT)
    dsl = Chat(bot, "console:dsl")
    await dsl.open()
    assert dsl.keys == ["case.list_handling", "case.new_card", "menu.ask"]
    assert cards(dsl) == [REF]


async def test_an_urgent_case_a_colleague_picked_up_is_a_line_with_their_update(bot, clock, scheduler):  # noqa: F811
    await five_cases_at_eight(bot, clock, scheduler)
    await Chat(bot, "console:deputy").pick("case:OSB-2026-0003:ack")
    dsl = Chat(bot, "console:dsl")
    await dsl.open()
    assert cards(dsl) == []  # in hand: nothing here needs the DSL this minute
    assert "case.update.acknowledged" in dsl.keys
    assert "OSB-2026-0003: Showing learners, Snapchat, 45 hours ago" in dsl.reply("digest.morning").text
