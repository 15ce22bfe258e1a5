"""`schools add | list | remove`, `--school` on the commands that need it, and `trends`, as an authority runs them."""

from __future__ import annotations

import json

from testing.cli_runner import err, out, run_cli


def test_one_school_needs_no_school_option_and_several_do(tmp_path):
    db = tmp_path / "bot.db"
    run_cli("staff", "add", "console:dsl", "--role", "dsl", "--name", "Dana Lee", "--db", db)  # the only school
    run_cli(
        "schools", "add", "oak", "--name", "Oakfield Primary", "--prefix", "OAK", "--slack-team", "T0OAK", "--db", db
    )
    refused = run_cli("staff", "list", "--db", db, expect=2)
    assert "there are 2 schools: say which with --school (one of: default, oak)" in err(refused)
    run_cli("staff", "add", "console:odsl", "--role", "dsl", "--name", "Ola Dee", "--school", "oak", "--db", db)
    listed = json.loads(out(run_cli("staff", "list", "--json", "--school", "oak", "--db", db)))
    assert [m["user"] for m in listed] == ["console:odsl"]
    assert "Dana Lee" in out(run_cli("staff", "list", "--school", "default", "--db", db))
    unknown = run_cli("staff", "list", "--school", "elm", "--db", db, expect=2)
    assert "--school elm: no such school" in err(unknown)


def test_schools_are_listed_with_their_workspaces_and_removed_only_when_empty(tmp_path):
    db = tmp_path / "bot.db"
    run_cli(
        "schools",
        "add",
        "oak",
        "--name",
        "Oakfield Primary",
        "--teams-tenant",
        "AB12CD34-0000-4000-8000-00000000ABCD",
        "--db",
        db,
    )
    run_cli("schools", "add", "county", "--name", "Hillshire County Council", "--authority", "--db", db)
    schools = {s["id"]: s for s in json.loads(out(run_cli("schools", "list", "--json", "--db", db)))}
    assert schools["oak"]["workspaces"] == [{"platform": "teams", "id": "ab12cd34-0000-4000-8000-00000000abcd"}]
    assert schools["county"]["kind"] == "authority"
    run_cli("staff", "add", "console:odsl", "--role", "dsl", "--name", "Ola Dee", "--school", "oak", "--db", db)
    refused = run_cli("schools", "remove", "oak", "--db", db, expect=2)
    assert "1 staff" in err(refused)
    run_cli("staff", "remove", "console:odsl", "--school", "oak", "--db", db)
    run_cli("schools", "remove", "oak", "--db", db)
    assert "oak" not in out(run_cli("schools", "list", "--db", db))


def test_a_schools_content_folder_with_a_mistake_is_refused_naming_the_file(tmp_path):
    folder = tmp_path / "oak-content" / "facts"
    folder.mkdir(parents=True)
    (folder / "helpline.yaml").write_text("helplines: []\n", encoding="utf-8")
    refused = run_cli("schools", "add", "oak", "--name", "Oakfield", "--local-content", folder.parent,
                      "--db", tmp_path / "bot.db", expect=2)
    assert "helpline.yaml: there is no content file of that name" in err(refused)


def test_trends_shows_accounts_reported_by_several_schools_and_nothing_private(tmp_path):
    db = tmp_path / "bot.db"
    run_cli("schools", "add", "oak", "--name", "Oakfield Primary", "--db", db)
    report = "\n".join(["I'm being targeted", "1", "no", "instagram", "@oakfield_muggies", "yesterday",
                        "Cruel posts about Mr Smith", "me", "skip", "none", "done", "nobody", "no_idea", "send"]) + "\n"
    run_cli("schools", "add", "hill", "--name", "Hillside Academy", "--db", db)
    run_cli("chat", "--school", "oak", "--as", "console:t1", "--db", db, input=report)
    assert "Nothing reported by 2 or more schools" in out(run_cli("trends", "--db", db))
    run_cli("chat", "--school", "hill", "--as", "console:t2", "--db", db,
            input=report.replace("@oakfield_muggies", "@hillside_muggies"))
    shown = out(run_cli("trends", "--db", db))
    assert "pattern muggies: 2 schools (Oakfield Primary, Hillside Academy)" in shown
    assert "Mr Smith" not in shown and "console:t1" not in shown
    as_json = json.loads(out(run_cli("trends", "--json", "--db", db)))
    assert [a["kind"] for a in as_json] == ["pattern"]


def test_a_school_is_added_with_its_nation_and_the_one_school_takes_it_from_the_environment(tmp_path):
    db = tmp_path / "bot.db"
    added = run_cli("schools", "add", "llan", "--name", "Ysgol Llan", "--nation", "wales", "--db", db)
    assert "school in Wales" in out(added)
    listed = {s["id"]: s for s in json.loads(out(run_cli("schools", "list", "--json", "--db", db)))}
    assert listed["llan"]["nation"] == "wales" and listed["default"]["nation"] == "england"
    refused = run_cli("schools", "add", "glen", "--name", "Glen", "--nation", "france", "--db", db, expect=2)
    assert "invalid choice" in err(refused)

    support = "I need support\nin_school\n"
    one = tmp_path / "one.db"
    english = out(run_cli("chat", "--db", one, input=support))
    welsh = out(run_cli("chat", "--db", one, input=support, env={"OSB_SCHOOL_NATION": "wales"}))
    assert "LADO" in english and "designated safeguarding person (DSP)" not in english
    assert "designated safeguarding person (DSP)" in welsh and "Designated Officer for Safeguarding" in welsh
    assert "0800 028 0285" in english and "0800 028 0285" in welsh  # the NSPCC whistleblowing line, in both


def test_a_welsh_schools_exported_record_has_wales_allegation_step_not_the_lado(tmp_path):
    db = tmp_path / "bot.db"
    run_cli("schools", "add", "llan", "--name", "Ysgol Llan", "--prefix", "LLN", "--nation", "wales", "--db", db)
    run_cli("staff", "add", "console:dsp", "--role", "dsl", "--name", "Dai Price", "--school", "llan", "--db", db)
    report = "\n".join(["I need to report something", "5", "no", "other_staff", "facebook", "@llan_gossip", "yesterday",
                        "Claims about a teacher", "other_staff", "skip", "done", "nobody", "no_idea", "send"]) + "\n"
    run_cli("chat", "--school", "llan", "--as", "console:t1", "--db", db, input=report)
    record = out(run_cli("cases", "export", "LLN-2026-0001", "--school", "llan", "--format", "md", "--out", "-",
                         "--db", db))
    assert "Designated Officer for Safeguarding" in record and "LADO within one working day" not in record
