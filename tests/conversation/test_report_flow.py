"""The report flow end to end through the in-process test chat."""

from __future__ import annotations

from bot.core.models import Attachment, CaseStatus
from testing.chat import Chat, walk


async def test_targeted_phrase_starts_report_and_sending_opens_routed_case(chat: Chat, bot, report_steps):
    await chat.open()
    await chat.say("I'm being targeted")
    assert chat.keys == ["report_concern.categories.ask"]
    assert chat.last[0].multiple
    await walk(chat, report_steps[1:])
    assert chat.keys == ["report_concern.summary.ask"]
    summary = chat.last[0].text
    assert r"https\://instagram.com/fake\_hillside" in summary and r"@fake\_hillside" in summary
    assert "19 November 2026" in summary  # "yesterday" against the test clock

    await chat.pick("send")
    sent = chat.reply("report.sent")
    assert "OSB-2026-0001" in sent.text
    assert {"menu:get_support", "menu:privacy_check"} <= set(chat.choice_ids())

    cases = await bot.store.list_cases("default")
    assert len(cases) == 1
    case = cases[0]
    assert case.reference == "OSB-2026-0001" and case.status == CaseStatus.NEW and not case.urgent
    assert case.categories == ["targeting_me"]
    assert case.reporter == "console:teacher"
    assert {r.user for r in case.routed_to} == {"console:dsl", "console:deputy"}
    assert case.content_version == bot.content.version
    assert case.answers["accounts"][0] == {
        "kind": "url",
        "value": "https://instagram.com/fake_hillside",
        "platform": "instagram",
    }
    kinds = [e.kind for e in await bot.store.case_events(case.id)]
    assert kinds == ["reported", "routed"]


async def test_sending_a_report_reads_the_staff_directory_once_for_its_routing_and_its_cards(
        chat: Chat, bot, report_steps, monkeypatch):
    await walk(chat, report_steps)
    reads: list[str] = []
    list_staff = bot.store.list_staff

    async def counted(school_id: str):
        reads.append(school_id)
        return await list_staff(school_id)

    monkeypatch.setattr(bot.store, "list_staff", counted)
    await chat.pick("send")
    assert "report.sent" in chat.keys
    assert reads == ["default"]  # the cards name the people routing chose from the same read


async def test_each_phrase_in_the_issue_starts_the_report(bot):
    for n, phrase in enumerate([
        "I'm being targeted", "someone has made a fake account of me",
        "there's an account posting photos of our pupils", "a page is spreading rumours about a teacher",
    ]):
        c = Chat(bot, f"console:t{n}")
        await c.say(phrase)
        assert c.keys in (["report_concern.categories.ask"], ["report.understood"], ["report.understood_kept"]), phrase


async def test_dsl_receives_case_card_when_they_open_the_chat(chat: Chat, chat_as, report_steps):
    await walk(chat, report_steps)
    await chat.pick("send")
    dsl = chat_as("console:dsl")
    await dsl.open()
    card_reply = dsl.reply("case.new_card")
    card = card_reply.card
    assert card.reference == "OSB-2026-0001"
    fields = dict(card.fields)
    assert fields["Reported by"] == "Jo Brown"
    assert "Instagram" in fields["Where"]
    assert "designated safeguarding lead" in fields["Sent to you because"].lower()
    assert "I have screenshots saved" in fields["Evidence"]
    assert [c.id for c in card_reply.choices] == [
        "case:OSB-2026-0001:ack", "case:OSB-2026-0001:urgent", "case:OSB-2026-0001:plan", "case:OSB-2026-0001:pack",
        "case:OSB-2026-0001:note",
        "case:OSB-2026-0001:action", "case:OSB-2026-0001:status", "case:OSB-2026-0001:close",
        "case:OSB-2026-0001:record", "case:OSB-2026-0001:entry", "case:OSB-2026-0001:entered",
    ]
    # Delivered once: opening again shows no second copy.
    await dsl.open()
    assert "case.new_card" not in dsl.keys


async def test_stop_mid_report_opens_no_case_and_tells_no_one(chat: Chat, bot, chat_as, report_steps):
    await walk(chat, report_steps[:6])
    await chat.say("stop")
    assert chat.keys == ["keeping.keep_or_delete"]
    await chat.pick("menu:delete")
    assert chat.keys[0] == "report.stopped"
    assert await bot.store.list_cases("default") == []
    dsl = chat_as("console:dsl")
    await dsl.open()
    assert dsl.keys == ["common.greeting", "menu.ask_first"]


async def test_half_finished_report_survives_a_restart(content, settings, clock, staffed, another_store, report_steps):
    from bot.conversation.engine import Engine

    first = Chat(Engine(content, staffed, settings, clock=clock))
    await walk(first, report_steps[:5])
    assert first.keys == ["report_concern.first_seen.ask"]
    await staffed.close()

    reopened = await another_store()
    try:
        second = Chat(Engine(content, reopened, settings, clock=clock))
        await second.open()
        assert second.keys == ["common.welcome_back", "report_concern.first_seen.ask"]
        await walk(second, report_steps[5:])
        await second.pick("send")
        assert second.reply("report.sent")
        (case,) = await reopened.list_cases("default")
        assert case.answers["platforms"] == ["instagram"]
    finally:
        await reopened.close()


async def test_idle_conversation_is_set_aside_then_resumed(chat: Chat, clock, report_steps):
    await walk(chat, report_steps[:4])
    clock.advance(days=8)
    await chat.open()
    assert chat.keys == ["common.resume_offer"]
    assert chat.choice_ids() == ["menu:resume", "menu:discard"]
    await chat.say("1")
    assert chat.keys == ["common.welcome_back", "report_concern.accounts.ask"]


async def test_idle_conversation_can_be_discarded(chat: Chat, bot, clock, report_steps):
    await walk(chat, report_steps[:4])
    clock.advance(days=8)
    await chat.say("@someone")  # an answer after a long silence is not taken blindly
    assert chat.keys == ["common.resume_offer"]
    await chat.pick("menu:discard")
    assert chat.keys[0] == "common.discarded"
    await chat.say("I'm being targeted")
    assert chat.keys == ["report_concern.categories.ask"]


async def test_not_idle_before_the_configured_time(chat: Chat, clock, report_steps):
    await walk(chat, report_steps[:4])
    clock.advance(days=6)
    await chat.say("@someone")
    assert chat.keys == ["report_concern.first_seen.ask"]


async def test_back_returns_to_the_previous_question(chat: Chat, report_steps):
    await walk(chat, report_steps[:4])
    assert chat.keys == ["report_concern.accounts.ask"]
    await chat.say("back")
    assert chat.keys == ["report_concern.platforms.ask"]
    await chat.pick("tiktok")
    assert chat.keys == ["report_concern.accounts.ask"]


async def test_change_an_answer_from_the_summary(chat: Chat, bot, report_steps):
    await walk(chat, report_steps)
    await chat.pick("change")
    assert chat.keys == ["common.which_to_change"]
    await chat.pick("platforms")
    assert chat.keys == ["report_concern.platforms.ask"]
    await chat.say("TikTok and Snapchat")
    assert chat.keys == ["report_concern.summary.ask"]
    assert "TikTok, Snapchat" in chat.last[0].text
    await chat.pick("send")
    (case,) = await bot.store.list_cases("default")
    assert case.answers["platforms"] == ["tiktok", "snapchat"]


async def test_adding_a_category_when_changing_asks_its_follow_up(chat: Chat, report_steps):
    await walk(chat, report_steps)
    await chat.pick("change")
    await chat.pick("categories")
    await chat.pick("targeting_me", "allegation")
    assert chat.keys == ["report_concern.allegation_about.ask"]
    await chat.pick("me")
    assert chat.keys == ["report_concern.summary.ask"]


async def test_retried_turn_is_ignored(chat: Chat, bot, report_steps):
    await walk(chat, report_steps)
    first = await chat.pick("send", turn_id="evt-1")
    assert "report.sent" in [r.key for r in first]
    again = await chat.pick("send", turn_id="evt-1")
    assert again == []
    assert len(await bot.store.list_cases("default")) == 1


async def test_sending_twice_opens_one_case(chat: Chat, bot, report_steps):
    """If the state were lost after the case was stored, sending again finds the same case."""
    await walk(chat, report_steps)
    state = await bot.store.load_conversation(chat._turn().conversation_key)
    await chat.pick("send")
    await bot.store.save_conversation(chat._turn().conversation_key, "default", "console:teacher", state)
    await chat.pick("send")
    assert "OSB-2026-0001" in chat.reply("report.sent").text
    cases = await bot.store.list_cases("default")
    assert len(cases) == 1
    dsl = Chat(bot, "console:dsl")
    await dsl.open()
    assert dsl.keys.count("case.new_card") == 1


async def test_attachments_are_recorded_as_evidence(chat: Chat, bot, report_steps):
    await walk(chat, report_steps[:9])
    assert chat.keys == ["report_concern.evidence.ask"]
    shot = Attachment(
        name="shot.png", ref="file:///tmp/shot.png", size=2048, sha256="ab" * 32, content_type="image/png"
    )
    await chat.attach(shot)
    assert chat.keys == ["common.evidence_received"]
    await walk(chat, [["done"], ["nobody"], ["no_idea"], ["send"]])
    (case,) = await bot.store.list_cases("default")
    (evidence,) = await bot.store.case_evidence(case.id)
    assert (evidence.name, evidence.size, evidence.sha256, evidence.added_by) == (
        "shot.png",
        2048,
        "ab" * 32,
        "console:teacher",
    )


async def test_someone_in_danger_is_always_answered_first(chat: Chat, report_steps):
    await walk(chat, report_steps[:3])
    await chat.say("a learner is in danger right now")
    assert chat.keys == ["safety.danger", "safety.danger_alerted", "report_concern.platforms.ask"]
    assert "999" in chat.last[0].text and "Dana Lee" in chat.last[0].text
    assert chat.last[0].urgent


async def test_suspected_person_detail_is_asked_only_when_relevant(chat: Chat, report_steps):
    await walk(chat, report_steps[:-1])
    await chat.pick("learner")
    assert chat.keys == ["report_concern.behind_it_detail.ask"]
    await chat.say("A group in Year 9 were laughing about a page")
    assert chat.keys == ["report_concern.summary.ask"]


async def test_bot_never_advises_contacting_the_account(chat: Chat, report_steps):
    await walk(chat, report_steps)
    await chat.pick("send")
    text = chat.reply("report.sent").text.lower()
    assert "don't contact the account" in text
