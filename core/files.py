"""Files written atomically, so a kill at any moment leaves the old file or the new one, never half.

Every file a user keeps (run folders, checkpoints, evaluation episodes, generated SUMO inputs) is
written through :func:`atomic_write`: to a temporary name in the same folder, flushed to disk, then
renamed over the target with ``os.replace`` (atomic on POSIX and Windows within one file system).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

TMP_SUFFIX = ".tmp"  # temporary files are ``.<name>.<random>.tmp`` beside their target


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on a clean exit, move it over ``path`` atomically.

    For files written over a long time (e.g. a per-step record streamed during an episode): readers
    never see a half-written file, and an exception (or a kill) leaves no file at ``path``. The
    temporary file is flushed to disk before the rename and gets the permissions a plain ``open``
    would give (``0o666`` less the umask), not ``mkstemp``'s ``0o600``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TMP_SUFFIX)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


def atomic_write(path: str | Path, writer: Callable[[Path], None]) -> None:
    """Call ``writer(tmp_path)``, then atomically move the result to ``path`` (see :func:`atomic_path`)."""
    with atomic_path(path) as tmp_path:
        writer(tmp_path)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    atomic_write(path, lambda p: p.write_text(text))


def remove_stale_temporaries(folder: str | Path) -> None:
    """Delete the temporary files of writes that were killed between write and rename."""
    for stale in Path(folder).rglob(f".*{TMP_SUFFIX}"):
        stale.unlink(missing_ok=True)


def sha256(path: str | Path) -> str:
    """Hex sha256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_json(path: str | Path) -> Any | None:
    """The JSON in ``path``, or ``None`` when it is missing or unreadable (e.g. never finished)."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError):
        return None
