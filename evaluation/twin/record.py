"""The per-step record of an episode, for replay: gzip JSON lines, written atomically.

Layout (one JSON object per line)::

    {"kind": "header", "format": 1, "info": {...}, "geometry": {...}}
    {"kind": "frame", ...}            one per sample (see Frame.to_json)
    {"kind": "end", "frames": N}

The file is streamed to a temporary name during the episode and renamed when the episode ends
(:func:`core.files.atomic_path`), so a record that exists is complete; a crashed or killed episode
leaves none (its temporary file is removed by the harness's next run).
"""

from __future__ import annotations

import contextlib
import gzip
import json
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from core.errors import RecordError
from core.files import atomic_path
from evaluation.twin.frames import Frame

RECORD_FORMAT = 1


class RecordWriter:
    """Streams frames to ``path`` (gzip JSON lines); the file appears only on :meth:`close`.

    Args:
        path: the record file (``.jsonl.gz``).
        info: the run (scenario, controller, seed, ...).
        geometry: the net's geometry, as :meth:`NetGeometry.to_json` (a record replays on its own).
    """

    def __init__(self, path: str | Path, info: dict[str, Any], geometry: dict[str, Any]) -> None:
        self.path = Path(path)
        self._stack = contextlib.ExitStack()
        tmp = self._stack.enter_context(atomic_path(self.path))
        self._fh: IO[str] = self._stack.enter_context(gzip.open(tmp, "wt", encoding="utf-8", compresslevel=6))
        self._frames = 0
        self._write({"kind": "header", "format": RECORD_FORMAT, "info": info, "geometry": geometry})

    def _write(self, obj: dict[str, Any]) -> None:
        self._fh.write(json.dumps(obj, separators=(",", ":")) + "\n")

    def write(self, frame: Frame) -> None:
        """Append one frame."""
        self._write({"kind": "frame", **frame.to_json()})
        self._frames += 1

    def close(self, *, complete: bool = True) -> None:
        """Finish the file: with ``complete`` it is renamed into place, otherwise discarded. Idempotent."""
        if self._fh.closed:
            return
        if not complete:
            with contextlib.suppress(Exception):
                self._stack.__exit__(RecordError, RecordError("discarded"), None)
            return
        self._write({"kind": "end", "frames": self._frames})
        self._stack.close()


@dataclass(frozen=True)
class Replay:
    """A finished episode read back from its record.

    Attributes:
        path: the record file.
        info: the run's description.
        geometry: the geometry as the browser reads it.
        frames: the frames, as JSON-ready dicts (in time order).
    """

    path: Path
    info: dict[str, Any]
    geometry: dict[str, Any]
    frames: tuple[dict[str, Any], ...]


def read_record(path: str | Path) -> Replay:
    """Read a record written by :class:`RecordWriter`.

    Raises:
        RecordError: the file is missing, not gzip JSON lines, of another format, or truncated (no
            end line); the message names the file and what to do.
    """
    p = Path(path)
    if not p.is_file():
        raise RecordError(
            f"record {p} does not exist; write one with `python -m evaluation.twin live ... --record {p}` "
            "or an evaluation with twin.record=true (OUT/twin/<scenario>/<controller>/seed_<n>.jsonl.gz)."
        )
    try:
        with gzip.open(p, "rt", encoding="utf-8") as fh:
            rows = [json.loads(line) for line in fh if line.strip()]
    except (OSError, EOFError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RecordError(
            f"record {p} is not a gzip JSON-lines record ({exc}); record the episode again."
        ) from None
    if not rows or rows[0].get("kind") != "header":
        raise RecordError(f"record {p} has no header line; it was not written by the live view's recorder.")
    header = rows[0]
    if header.get("format") != RECORD_FORMAT:
        raise RecordError(
            f"record {p} has format {header.get('format')!r}, this version reads {RECORD_FORMAT}; record it again."
        )
    if rows[-1].get("kind") != "end":
        raise RecordError(f"record {p} is truncated (no end line); record the episode again.")
    frames = tuple(r for r in rows[1:-1] if r.get("kind") == "frame")
    if not frames:
        raise RecordError(f"record {p} holds no frames; the episode was shorter than one sample period.")
    return Replay(p, dict(header.get("info", {})), dict(header["geometry"]), frames)
