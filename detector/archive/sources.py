"""The files an archive scan covers: named files, folders searched recursively, and ``@list.txt`` files of paths.

Folders contribute every file of a type the page accepts (``detector.analysis.uploads.ACCEPTED_TYPES``); a file
named on its own is always taken, so that a mislabelled video is analysed (or refused with its reason) rather than
skipped in silence. A path that does not exist is kept too: the scan records it as a failure with the reason.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from pathlib import Path

from detector.analysis.uploads import ACCEPTED_TYPES

LIST_PREFIX = "@"
HASH_CHUNK_BYTES = 1 << 20


def _listed(list_file: Path) -> Iterable[Path]:
    """The paths a list file names, one a line; blank lines and ``#`` comments are skipped, and a relative path is
    relative to the list file's folder."""
    if not list_file.is_file():
        raise FileNotFoundError(f"the list file {list_file} does not exist")
    for line in list_file.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            path = Path(line).expanduser()
            yield path if path.is_absolute() else list_file.parent / path


def _accepted(path: Path) -> bool:
    return path.suffix.lower().lstrip(".") in ACCEPTED_TYPES


def expand_sources(sources: Sequence[str]) -> list[Path]:
    """Every file to scan, in the order given (a folder's files sorted by path), each once.

    Raises ``FileNotFoundError`` for an ``@list`` file that does not exist: nothing could be scanned from it.
    """
    found: list[Path] = []
    for source in sources:
        if source.startswith(LIST_PREFIX):
            found.extend(_listed(Path(source[len(LIST_PREFIX) :]).expanduser()))
            continue
        path = Path(source).expanduser()
        if path.is_dir():
            found.extend(sorted(item for item in path.rglob("*") if item.is_file() and _accepted(item)))
        else:
            found.append(path)
    unique: dict[Path, None] = {}
    for path in found:
        unique.setdefault(path.absolute(), None)
    return list(unique)


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes, hex, read in 1 MB pieces (a video is never held in memory whole)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(HASH_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()
