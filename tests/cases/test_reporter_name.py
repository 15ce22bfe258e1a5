"""Who reported a case, as its card names them: the staff directory's name; else the name their platform gave
them (Slack, Teams); else, as in the console for someone not in the directory, no name at all (never their id)."""

from __future__ import annotations

from testing.chat import STANDARD_REPORT, Chat


async def reported_by(bot, reporter: str, display_name: str | None = None) -> str:
    """'Reported by' on the card the DSL opens, for a report sent by `reporter`."""
    chat = Chat(bot, reporter)
    for step in [*STANDARD_REPORT, ["send"]]:
        if isinstance(step, list):
            await chat.pick(*step, display_name=display_name)
        else:
            await chat.say(step, display_name=display_name)
    (case,) = await bot.store.list_cases("default", reporter=reporter)
    dsl = Chat(bot, "console:dsl")
    await dsl.pick(f"case:{case.reference}:show")
    return dict(dsl.reply("case.card").card.fields)["Reported by"]


async def test_a_console_reporter_in_the_directory_is_named_as_the_directory_names_them(bot):
    assert await reported_by(bot, "console:teacher") == "Jo Brown"  # the console gives no name of its own


async def test_the_directory_name_comes_before_the_platforms(bot):
    assert await reported_by(bot, "console:teacher", display_name="JB") == "Jo Brown"


async def test_a_reporter_outside_the_directory_is_named_by_their_platform_or_not_at_all(bot):
    assert await reported_by(bot, "console:supply", display_name="Priya Shah") == "Priya Shah"
    unnamed = await reported_by(bot, "console:visitor")
    assert unnamed == "a member of staff (their name was not given)" and "visitor" not in unnamed

