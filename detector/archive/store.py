"""Where an archive scan's rows live: a folder of Parquet part files, readable at any time.

``RESULTS/part-*.parquet`` is the files table (``pyarrow.parquet.read_table(RESULTS)`` reads it whole) and
``RESULTS/_faces/part-*.parquet`` the faces table beside it (Parquet readers skip folders whose names start with
an underscore, so the two never mix). Rows are written as files finish, each batch as new part files: a part is
written under a hidden name and renamed into place, so a reader never sees half a part, and a scan that is killed
loses only the files it was analysing. A file's faces are written before its row, so a row never lacks its faces.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from detector.archive.rows import FACES_SCHEMA, FILES_SCHEMA, Scanned

FACES_FOLDER = "_faces"
PART_GLOB = "part-*.parquet"


def _write_part(table: pa.Table, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    name = f"part-{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.parquet"
    hidden = folder / f".{name}.writing"
    pq.write_table(table, hidden)
    final = folder / name
    os.replace(hidden, final)
    return final


def _read(folder: Path, schema: pa.Schema) -> pa.Table:
    parts = sorted(folder.glob(PART_GLOB))
    if not parts:
        return schema.empty_table()
    return pa.concat_tables([pq.read_table(part, schema=schema) for part in parts])


class ResultsStore:
    """The results folder of one archive scan, and of every rerun that resumes it."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        if self.folder.exists() and not self.folder.is_dir():
            raise NotADirectoryError(f"the results folder {self.folder} is a file")
        self.folder.mkdir(parents=True, exist_ok=True)

    @property
    def faces_folder(self) -> Path:
        return self.folder / FACES_FOLDER

    def append(self, scanned: Sequence[Scanned]) -> None:
        """Writes the rows of files that finished: their faces first, then their rows."""
        if not scanned:
            return
        faces = [row for item in scanned for row in item.face_rows]
        if faces:
            _write_part(pa.Table.from_pylist(faces, schema=FACES_SCHEMA), self.faces_folder)
        _write_part(pa.Table.from_pylist([item.file_row for item in scanned], schema=FILES_SCHEMA), self.folder)

    def files(self) -> pa.Table:
        return _read(self.folder, FILES_SCHEMA)

    def faces(self) -> pa.Table:
        return _read(self.faces_folder, FACES_SCHEMA)

    def index(
        self, settings: str, retry_failed: bool = False
    ) -> tuple[dict[str, dict[str, Any]], set[tuple[str, str | None]]]:
        """One read of the files table: what earlier runs with these ``settings`` found, by SHA-256 (one row each;
        rows of files that could not be analysed count too, unless ``retry_failed``), and the (file, sha256)
        pairs that already have a row."""
        done: dict[str, dict[str, Any]] = {}
        has_row: set[tuple[str, str | None]] = set()
        for row in self.files().to_pylist():
            if row["settings"] != settings:
                continue
            has_row.add((row["file"], row["sha256"]))
            if row["sha256"] is not None and not (retry_failed and row["verdict"] is None):
                done.setdefault(row["sha256"], row)
        return done, has_row

    def done(self, settings: str, retry_failed: bool = False) -> dict[str, dict[str, Any]]:
        return self.index(settings, retry_failed)[0]

    def rows_of(self, settings: str) -> set[tuple[str, str | None]]:
        return self.index(settings)[1]

    def faces_by_sha256(self, settings: str) -> dict[str, list[dict[str, Any]]]:
        """One read of the faces table: the faces of every file scanned with these ``settings``, by SHA-256."""
        found: dict[str, list[dict[str, Any]]] = {}
        for row in self.faces().to_pylist():
            if row["settings"] == settings:
                found.setdefault(row["sha256"], []).append(row)
        return found

    def faces_of(self, sha256: str, settings: str) -> list[dict[str, Any]]:
        return self.faces_by_sha256(settings).get(sha256, [])
