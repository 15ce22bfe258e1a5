"""The exact words the command line prints for the operator, and that they come from content/messages/cli.yaml.

The other CLI tests look for the facts in the output; these pin it byte for byte where nothing else does (the
directory, the schools, an empty case list, errors naming what went wrong), so a change in bot/cli/ that alters
what an operator sees cannot pass unnoticed.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cli(tmp_path, monkeypatch, capsys):
    """Run `online-safety-bot ARGS` in this process on a database of its own; returns (exit code, stdout, stderr)."""
    for name in [n for n in __import__("os").environ if n.startswith("OSB_")]:
        monkeypatch.delenv(name)
    db = tmp_path / "bot.db"

    def run(*args: str) -> tuple[int, str, str]:
        try:
            code = main([*args, "--db", str(db)])
        except SystemExit as stopped:  # argparse refusing an argument
            code = int(stopped.code or 0)
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_the_staff_directory_is_added_to_listed_and_removed_in_these_words(cli):
    assert cli("staff", "list") == (0, "The staff directory is empty. Add people with: online-safety-bot staff add "
                                       "PLATFORM:USER --role dsl --name NAME\n", "")
    code, out, err = cli("staff", "add", "slack:U012AB3CD", "--role", "dsl", "--name", " Dana   Lee ")
    assert (code, out) == (0, "slack:U012AB3CD is Dana Lee, DSL.\n")
    assert err.startswith("online-safety-bot: warning: ")  # no headteacher or chair yet: the allegation route is named
    code, out, _ = cli("staff", "add", "console:head", "--role", "headteacher", "--role", "dsl", "--name", "A_Morgan")
    assert out == "console:head is A_Morgan, headteacher and DSL.\n"
    assert cli("staff", "list")[1] == (
        f"{'slack:U012AB3CD':30} {'dsl':30} Dana Lee\n"
        f"{'console:head':30} {'headteacher,dsl':30} A_Morgan\n"
    )
    assert cli("staff", "remove", "slack:U012AB3CD") == (0, "slack:U012AB3CD removed.\n", "")
    assert cli("staff", "remove", "slack:U012AB3CD") == (
        1, "", "online-safety-bot: slack:U012AB3CD is not in the staff directory\n")
    assert cli("staff", "add", "console:x", "--role", "dsl", "--name", "  ") == (
        2, "", "online-safety-bot: --name must not be empty\n")


def test_schools_are_added_listed_and_chosen_in_these_words(cli):
    assert cli("schools", "add", "north", "--name", "North School", "--prefix", "NTH", "--slack-team", "T01",
               "--nation", "wales") == (0, "north: North School (school in Wales; slack T01).\n", "")
    assert cli("schools", "add", "la", "--name", "The LA", "--authority") == (
        0, "la: The LA (authority in England; no workspace yet).\n", "")
    assert cli("schools", "list")[1] == (
        f"{'default':20} {'school':10} {'OSB':6} {'england':16} Our school  [-]\n"
        f"{'north':20} {'school':10} {'NTH':6} {'wales':16} North School  [slack:T01]\n"
        f"{'la':20} {'authority':10} {'OSB':6} {'england':16} The LA  [-]\n"
    )
    assert cli("cases", "list", "--school", "south") == (
        2, "", "online-safety-bot: --school south: no such school (schools: default, north)\n")
    assert cli("cases", "list") == (
        2, "", "online-safety-bot: there are 2 schools: say which with --school (one of: default, north)\n")
    assert cli("cases", "list", "--school", "north") == (0, "No cases yet.\n", "")
    assert cli("schools", "add", "south", "--name", "South")[0] == 0
    assert cli("cases", "verify", "--school", "south") == (0, "No cases yet.\n", "")
    assert cli("cases", "show", "OSB-2026-0001", "--school", "south") == (
        1, "", "online-safety-bot: no case OSB-2026-0001\n")
    assert cli("schools", "remove", "la") == (0, "la removed.\n", "")


def test_arguments_are_refused_naming_what_they_should_be(cli):
    code, out, err = cli("staff", "add", "dana", "--role", "dsl", "--name", "Dana")
    assert code == 2 and err.endswith(
        "error: argument user: 'dana' should look like PLATFORM:USER, for example slack:U012AB3CD\n")
    code, _, err = cli("cases", "stats", "--since", "2026-13-01")
    assert code == 2 and err.endswith("error: argument --since: '2026-13-01' should be a date, YYYY-MM-DD\n")
    code, _, err = cli("schools", "add", "ok", "--name", "x", "--prefix", "lower")
    assert code == 2 and err.endswith("error: argument --prefix: 'lower' should be 2 to 6 capital letters, like HSA\n")


def test_a_purge_as_on_a_later_day_is_refused_unless_it_is_a_dry_run(cli):
    assert cli("cases", "purge", "--now", "2999-01-01") == (
        2, "", "online-safety-bot: --now 2999-01-01 is later than today: use it with --dry-run only; cases are "
               "never deleted before they are due\n")


def test_the_command_lines_words_are_read_from_the_content_folder(cli, tmp_path):
    folder = tmp_path / "content"
    shutil.copytree(ROOT / "content", folder)
    cli_yaml = folder / "messages" / "cli.yaml"
    cli_yaml.write_text(cli_yaml.read_text(encoding="utf-8").replace(
        'removed: "{user} removed."', 'removed: "{user} taken out of the directory."'), encoding="utf-8")
    cli("staff", "add", "console:dsl", "--role", "dsl", "--name", "Dana Lee", "--content", str(folder))
    assert cli("staff", "remove", "console:dsl", "--content", str(folder)) == (
        0, "console:dsl taken out of the directory.\n", "")
