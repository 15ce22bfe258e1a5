"""A few golden transcripts: the exact words of the replies that matter most, placeholders filled.

If the wording in content/ changes on purpose, update these with it (and have the DSL review it)."""

from __future__ import annotations

from testing.chat import Chat, walk


async def test_golden_emergency_answer(chat: Chat):
    await chat.say("someone is in danger right now")
    assert chat.last[0].text == (
        "**If someone is in immediate danger, call 999 now.**\n"
        "Then tell the Designated Safeguarding Lead straight away, in person or by phone: "
        "Dana Lee (DSL), Sam Patel (deputy DSL).\n"
        "Anyone can make a referral. If you think a child is at risk of harm and you can't reach the DSL or a deputy, "
        "don't wait: contact children's social care (your local authority's front door or out-of-hours team), or the "
        "police on 999 if the child is in immediate danger.\n"
        "When you can, carry on with the report below: it is now marked **urgent**."
    )


async def test_golden_crisis_answer(chat: Chat):
    await chat.say("I want to kill myself")
    assert chat.last[0].text == (
        "**I'm really sorry you're feeling like this. Thank you for telling me.** "
        "You don't have to deal with it on your own.\n"
        "- **If you might act on these thoughts now, or you're in danger, call 999** or go to A&E.\n"
        "- **Samaritans: 116 123**, free, 24 hours a day, every day of the year. "
        "You can also email jo@samaritans.org.\n"
        "- **NHS 111, option 2**: call 111 and choose option 2 for urgent help with your mental health in England, "
        "at any time.\n"
        "- **Education Support helpline: 08000 562 561**, counsellors for people who work in education, "
        "24 hours a day, every day of the year.\n"
        "- And someone you trust: a friend, family, a colleague or your GP.\n"
        "If it's someone else you're worried about, a learner or a colleague, and they're in danger now, call 999, "
        "then tell the DSL."
    )


async def test_golden_report_sent(chat: Chat, report_steps):
    await walk(chat, report_steps + [["send"]])
    assert chat.last[0].text == (
        "**Your report has been sent.** Its reference is **OSB-2026-0001**.\n"
        "It has gone to the safeguarding team (2 people). I'll let you know when someone has picked it up.\n"
        "School is closed now, so they will see it when school opens on Monday 23 November at 8:00, or sooner. "
        "**If anyone is at risk tonight:** call 999 in an emergency, or the police on 101; for a child, your local "
        "children's social care: your local authority's children's social care team (its safeguarding "
        "\"front door\").\n"
        "In the meantime, please don't contact the account or reply to it, even to ask for it to come down.\n"
        "**One thing only you can do, if you feel up to it:** platforms often act on an account pretending to be "
        "someone only when that person reports it themselves, so your own report may be the one that gets it "
        "taken down. The team will do everything else. I can show you the steps now; when you have reported it, "
        "press \"I've reported it\" so the DSL knows.\n"
        "Looking after yourself matters too."
    )


async def test_golden_posh_support(chat: Chat):
    await chat.pick("menu:get_support")
    await chat.pick("posh")
    assert chat.last[0].text == (
        "**The Professionals Online Safety Helpline (POSH)** helps school staff with online safety problems, including "
        "getting fake or harmful accounts taken down. They have direct contacts at the major platforms.\n"
        "Phone 0344 381 4772 or email helpline@saferinternet.org.uk (Monday to Friday, 10am to 4pm).\n"
        "Report to the platform yourself first and give it 48 hours, unless it's a safeguarding concern: "
        "then contact POSH straight away."
    )


async def test_golden_card_top_lines(bot, chat: Chat, report_steps, content):
    """What the DSL reads first on a new case's card, in the console: its summary, then the fields."""
    from bot.channels.console import to_text

    await walk(chat, report_steps + [["send"]])
    dsl = Chat(bot, "console:dsl")
    await dsl.pick("case:OSB-2026-0001:show")
    lines = to_text([dsl.last[0]], content).splitlines()
    top = next(n for n, line in enumerate(lines) if line.startswith("  ┌"))
    assert lines[top:top + 4] == [
        "  ┌ Case OSB-2026-0001 (New)",
        "  │ **Targeting the reporter** on Instagram, since Friday 20 November, 21:30. Not urgent.",
        "  │ **Due next:** someone picks it up (Acknowledge). If no one has, reminders go from Monday 23 November, "
        "12:00.",
        "  │ Reported by: Jo Brown",
    ]
