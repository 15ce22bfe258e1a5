"""Case data is private on disk (redteam §10, §22): the SQLite database with its WAL and shared-memory files, and
every record the bot writes, are 0600, in 0700 folders where the bot makes them, whatever the umask; a record
written over an existing file keeps none of its looser mode, and one written at a symbolic link replaces the
link, never the file it points to."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from bot.channels.console import save_files
from bot.core.models import FileReply, Reply
from bot.core.private import write_private
from bot.store import SQLiteStore
from tests.conftest import STAFF


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


@pytest.fixture
def open_umask():
    """The umask most servers run with (022: new files readable by everyone), restored after."""
    before = os.umask(0o022)
    yield
    os.umask(before)


async def test_a_new_database_its_wal_and_shm_and_its_folder_are_the_owners_only(tmp_path, open_umask):
    db = tmp_path / "data" / "deeper" / "bot.db"
    store = SQLiteStore(db)
    await store.open()
    try:
        await store.upsert_staff(STAFF[0])  # a write: the WAL and shared-memory files now exist
        assert {p.name: mode(p) for p in db.parent.iterdir()} == {
            "bot.db": 0o600, "bot.db-wal": 0o600, "bot.db-shm": 0o600, "bot.db.record-key": 0o600}
        assert mode(db.parent) == 0o700 and mode(db.parent.parent) == 0o700
    finally:
        await store.close()


async def test_an_existing_world_readable_database_is_tightened_when_opened(tmp_path, open_umask):
    db = tmp_path / "bot.db"
    store = SQLiteStore(db)
    await store.open()
    await store.upsert_staff(STAFF[0])
    await store.close()
    for path in tmp_path.iterdir():
        path.chmod(0o644)  # as an older version left them
    store = SQLiteStore(db)
    await store.open()
    try:
        assert all(mode(p) == 0o600 for p in tmp_path.iterdir() if p.name.startswith("bot.db")), \
            {p.name: oct(mode(p)) for p in tmp_path.iterdir()}
        assert await store.get_staff("default", STAFF[0].user) is not None
    finally:
        await store.close()


def test_a_record_over_an_existing_loose_file_is_0600(tmp_path, open_umask):
    target = tmp_path / "record.pdf"
    target.write_bytes(b"old")
    target.chmod(0o666)
    write_private(target, b"%PDF-new")
    assert target.read_bytes() == b"%PDF-new" and mode(target) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["record.pdf"]  # no temporary file left behind


def test_a_record_written_at_a_symlink_replaces_the_link_and_leaves_its_target_alone(tmp_path, open_umask):
    someone_elses = tmp_path / "someone-elses.txt"
    someone_elses.write_text("theirs")
    link = tmp_path / "out" / "record.md"
    link.parent.mkdir()
    link.symlink_to(someone_elses)
    write_private(link, b"# record")
    assert someone_elses.read_text() == "theirs"
    assert not link.is_symlink() and link.read_bytes() == b"# record" and mode(link) == 0o600


def test_the_console_saves_records_0600_in_a_0700_folder_it_makes(tmp_path, open_umask):
    folder = tmp_path / "data" / "exports"
    reply = Reply(key="case.record.ready", text="ready",
                  file=FileReply(name="OSB-2026-0001.pdf", media_type="application/pdf", content=b"%PDF-1.4"))
    (path,) = save_files([reply], folder).values()
    assert path == folder / "OSB-2026-0001.pdf" and mode(path) == 0o600
    assert mode(folder) == 0o700 and mode(folder.parent) == 0o700
