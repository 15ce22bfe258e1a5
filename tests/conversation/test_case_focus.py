"""Ways back: the case plan and the report pack end with "Back to OSB-…", and while a case is in focus (the last
one shown to this person here) its card's actions can be typed; a handler moves around their cases in words
("back", "list", "next")."""

from __future__ import annotations

from testing.chat import STANDARD_REPORT, Chat, walk

REF = "OSB-2026-0001"


async def handler(bot) -> Chat:
    await walk(Chat(bot, "console:teacher"), [*STANDARD_REPORT, ["send"]])
    dsl = Chat(bot, "console:dsl")
    await dsl.pick(f"case:{REF}:show")
    return dsl


async def test_the_plan_and_the_pack_end_with_a_way_back_to_the_case(bot):
    dsl = await handler(bot)
    await dsl.pick(f"case:{REF}:plan")
    assert dsl.last[-1].choices[-1].id == f"case:{REF}:show"
    assert dsl.last[-1].choices[-1].label == f"Back to {REF}"
    await dsl.pick(f"case:{REF}:pack")
    assert dsl.last[-1].choices[-1].id == f"case:{REF}:show"
    await dsl.pick(f"case:{REF}:show")
    assert dsl.keys == ["case.card"] and dsl.last[0].card.reference == REF


async def test_typed_card_actions_work_on_the_case_in_focus(bot):
    dsl = await handler(bot)
    await dsl.say("Case plan")
    assert dsl.keys == ["case.plan.show"]
    await dsl.say("report pack")
    assert REF in dsl.text and dsl.last[-1].choices[-1].id == f"case:{REF}:show"
    await dsl.say("back")
    assert dsl.keys == ["case.card"]
    await dsl.say("add a note")
    assert dsl.keys == ["case_note.note.ask"]
    await dsl.say("Called the reporter; they are OK.")  # inside the flow the words are its answer
    assert dsl.keys == ["case.note_added"]
    await dsl.say("close")
    assert dsl.keys == ["case_close.outcome.ask"]


async def test_typed_card_words_do_nothing_without_a_case_in_focus(bot):
    await walk(Chat(bot, "console:teacher"), [*STANDARD_REPORT, ["send"]])
    dsl = Chat(bot, "console:dsl")
    await dsl.say("report pack")
    assert not any(k.startswith(("case.pack", "case.plan")) for k in dsl.keys)
    teacher = Chat(bot, "console:teacher")  # the reporter never gets a case in focus
    await teacher.pick(f"case:{REF}:show")
    await teacher.say("close")
    assert "case.not_found" not in teacher.keys and "case_close.outcome.ask" not in teacher.keys


async def test_a_card_action_typed_with_no_case_in_focus_shows_the_handlers_cases(bot):
    """A DSL who opens the chat and types "acknowledge" is shown their cases to pick one, not "I'm not sure";
    anyone else typing it is not."""
    await walk(Chat(bot, "console:teacher"), [*STANDARD_REPORT, ["send"]])
    dsl = Chat(bot, "console:dsl")
    await dsl.say("acknowledge")
    assert dsl.keys[0] == "case.list_handling" and f"case:{REF}:show" in dsl.choice_ids()
    teacher = Chat(bot, "console:ta")
    await teacher.say("acknowledge")
    assert "case.list_handling" not in teacher.keys


async def handler_of_three(bot) -> tuple[Chat, list[str]]:
    """A DSL with three new cases, shown their list; returns the references in the list's order."""
    for reporter in ("console:ta", "console:tb", "console:tc"):
        await walk(Chat(bot, reporter), [*STANDARD_REPORT, ["send"]])
    dsl = Chat(bot, "console:dsl")
    await dsl.say("my cases")
    assert dsl.keys[0] == "case.list_handling"
    return dsl, [c.split(":")[1] for c in dsl.choice_ids() if c.startswith("case:")]


async def test_back_goes_back_where_the_handler_came_from(bot):
    """From the card, "back" is the list of cases it was opened from; from the plan or the pack, the card; from the
    list, with nowhere further back, the menu."""
    dsl, listed = await handler_of_three(bot)
    await dsl.pick(f"case:{listed[1]}:show")
    await dsl.say("back")
    assert dsl.keys == ["case.list_handling"]
    await dsl.pick(f"case:{listed[1]}:show")
    await dsl.say("plan")
    await dsl.say("go back")
    assert dsl.keys == ["case.card"] and dsl.last[0].card.reference == listed[1]
    await dsl.say("report pack")
    await dsl.say("back to the case")
    assert dsl.keys == ["case.card"] and dsl.last[0].card.reference == listed[1]
    await dsl.say("Back")
    assert dsl.keys == ["case.list_handling"]
    await dsl.say("back")
    assert dsl.keys == ["menu.ask"]


async def test_back_after_an_action_on_the_card_goes_to_the_list(bot):
    dsl, listed = await handler_of_three(bot)
    await dsl.pick(f"case:{listed[0]}:show")
    await dsl.say("acknowledge")
    assert dsl.keys == ["case.acknowledged"]
    await dsl.say("back")
    assert dsl.keys == ["case.list_handling"]
    await dsl.say("show")  # the case in focus is still the one acted on
    assert dsl.keys == ["case.card"] and dsl.last[0].card.reference == listed[0]


async def test_next_works_through_the_list_and_list_shows_it_again(bot):
    dsl, listed = await handler_of_three(bot)
    await dsl.say("next")  # none opened yet: the first
    assert dsl.keys == ["case.card"] and dsl.last[0].card.reference == listed[0]
    await dsl.say("next case")
    assert dsl.last[0].card.reference == listed[1]
    await dsl.say("next")
    assert dsl.last[0].card.reference == listed[2]
    await dsl.say("next")  # past the end: the list, with what is still open
    assert dsl.keys == ["case.list_handling"]
    await dsl.pick(f"case:{listed[1]}:show")
    await dsl.say("list")
    assert dsl.keys == ["case.list_handling"]
    await dsl.say("back to my cases")
    assert dsl.keys == ["case.list_handling"]


async def test_ways_around_the_cases_are_for_handlers_and_idle_conversations_only(bot):
    dsl, listed = await handler_of_three(bot)
    await dsl.pick(f"case:{listed[0]}:show")
    await dsl.say("add a note")
    await dsl.say("back")  # inside the note's flow, "back" is the flow's own
    assert "case.list_handling" not in dsl.keys
    teacher = Chat(bot, "console:teacher")
    for words in ("next", "list"):
        await teacher.say(words)
        assert "case.list_handling" not in teacher.keys and "case.card" not in teacher.keys


async def test_a_case_reference_typed_opens_the_case(bot):
    dsl, listed = await handler_of_three(bot)
    await dsl.say(listed[2])
    assert dsl.keys == ["case.card"] and dsl.last[0].card.reference == listed[2]
    await dsl.say(f"open {listed[0].lower()}")
    assert dsl.keys == ["case.card"] and dsl.last[0].card.reference == listed[0]
    await dsl.say(f"the account in {listed[1]} is back")  # a sentence that mentions it is not a request to open it
    assert "case.card" not in dsl.keys
    reporter = Chat(bot, "console:ta")  # the reporter sees the status of their own report, nothing more
    (own,) = await bot.store.list_cases("default", reporter="console:ta")
    await reporter.say(own.reference)
    assert reporter.keys == ["case.reporter_view"]


async def test_a_case_number_typed_on_a_card_never_presses_its_first_button(bot):
    """On a card, "1" is its first button (Acknowledge); "0001", a case's number, is not."""
    dsl, listed = await handler_of_three(bot)
    await dsl.pick(f"case:{listed[0]}:show")
    await dsl.say("0001")
    assert "case.acknowledged" not in dsl.keys
    (case,) = [c for c in await bot.store.list_cases("default", routed_to="console:dsl") if c.reference == listed[0]]
    assert case.status.value == "new"
