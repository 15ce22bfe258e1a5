"""Files and folders that hold case data: readable by their owner only, whatever the process's umask.

The database, its WAL and shared-memory files, exported records and saved PDFs are files of mode 0600; the
folders the bot creates for them are 0700. A record is written to a new file beside its target and renamed
into place, so an existing file keeps none of its looser mode and a symbolic link at the target is replaced,
never followed.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

FILE_MODE = 0o600
FOLDER_MODE = 0o700


def private_folder(folder: str | Path) -> Path:
    """Create `folder` and any missing parents as 0700. Folders that exist already are left as they are
    (they may be shared ones, such as a home or /tmp)."""
    folder = Path(folder)
    missing = [p for p in [folder, *folder.parents] if not p.exists()]
    for path in reversed(missing):
        try:
            os.mkdir(path, FOLDER_MODE)
        except FileExistsError:  # made meanwhile by someone else: theirs to keep as it is
            continue
        os.chmod(path, FOLDER_MODE)  # the umask may have taken bits off; never added any
    return folder


def private_file(path: str | Path) -> None:
    """Make sure the file at `path` exists and is 0600: created so if absent, tightened if looser. A symbolic
    link there is refused (OSError), not followed."""
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, FILE_MODE)
    try:
        os.fchmod(descriptor, FILE_MODE)
    finally:
        os.close(descriptor)


def write_private(path: str | Path, data: bytes) -> Path:
    """Write `data` as the file at `path`, 0600, through a new temporary file renamed into place (see above)."""
    path = Path(path)
    private_folder(path.parent)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        os.fchmod(descriptor, FILE_MODE)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
