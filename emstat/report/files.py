"""Which report files emstat wrote, so that a rerun never replaces one the user edited.

Beside each report, ``<stem>_figures/written.json`` records the SHA-256 of
every file emstat wrote for it (the ``.qmd``, the rendered ``.html`` and
``.pdf``) and the names of its figures.  A file is replaced again only while
its contents still match that record, or when the caller says ``overwrite``.
Figures are emstat's own and are regenerated freely.  Files are written to a
temporary name in the same folder and renamed at the end, so a failure leaves
the old file, never half of a new one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from emstat.errors import InputError

__all__ = [
    "RECORD_NAME",
    "check_replaceable",
    "figure_dir",
    "file_hash",
    "read_record",
    "recorded_figures",
    "remember",
    "scratch",
    "staged",
    "write_text_atomic",
]

RECORD_NAME = "written.json"


def figure_dir(stem: str) -> str:
    """The folder, beside the ``.qmd``, that holds a report's figures (and its record)."""
    return f"{stem}_figures"


def _figure_folder(qmd: Path) -> Path:
    return qmd.parent / figure_dir(qmd.stem)


def file_hash(path: Path) -> str:
    """``sha256:<hex>`` of a file's bytes."""
    return "sha256:" + hashlib.sha256(Path(path).read_bytes()).hexdigest()


def read_record(qmd: Path) -> dict[str, Any]:
    """The record beside ``qmd``: ``{"files": {name: hash}, "figures": [names]}``.

    A missing or unreadable record is an empty one: nothing is known to be emstat's.
    """
    path = _figure_folder(Path(qmd)) / RECORD_NAME
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"files": {}, "figures": []}
    if not isinstance(record, dict):
        return {"files": {}, "figures": []}
    files = record.get("files")
    figures = record.get("figures")
    return {
        "files": files if isinstance(files, dict) else {},
        "figures": [f for f in figures if isinstance(f, str)] if isinstance(figures, list) else [],
    }


def recorded_figures(qmd: Path) -> list[str]:
    """File names of the figures emstat last wrote for ``qmd``."""
    return list(read_record(qmd)["figures"])


def remember(qmd: Path, written: Iterable[Path] = (), figures: Iterable[str] | None = None) -> None:
    """Add the hashes of ``written`` (files beside ``qmd``) to its record; set its figures."""
    qmd = Path(qmd)
    record = read_record(qmd)
    for path in written:
        record["files"][Path(path).name] = file_hash(Path(path))
    if figures is not None:
        record["figures"] = sorted(figures)
    folder = _figure_folder(qmd)
    folder.mkdir(exist_ok=True)
    write_text_atomic(folder / RECORD_NAME, json.dumps(record, indent=1, sort_keys=True) + "\n")


def _refusal(path: Path, qmd: Path, record: dict[str, Any]) -> str:
    recorded = record["files"].get(path.name)
    what = "was changed since emstat wrote it" if recorded else "exists and emstat did not write it"
    text = f"{str(path)!r} {what}; pass --overwrite (overwrite=True) to replace it"
    if path.suffix.lower() == ".qmd":
        text += f", or render it as it is with: emstat report {qmd}"
    return text


def check_replaceable(qmd: Path, targets: Iterable[Path], overwrite: bool = False) -> None:
    """Raise InputError unless every target may be written.

    A target may be written when it does not exist, when it still holds what
    emstat last wrote to it, or when ``overwrite`` is true; never when it is a
    folder.
    """
    qmd = Path(qmd)
    record = read_record(qmd)
    for path in map(Path, targets):
        if path.is_dir():
            raise InputError(f"{str(path)!r} is a folder; a report is written to a file")
        if overwrite or not path.exists():
            continue
        if record["files"].get(path.name) != file_hash(path):
            raise InputError(_refusal(path, qmd, record))


def _new_file(path: Path) -> Path:
    """An empty new file beside ``path``, with the permissions the umask gives (mkstemp: 0600)."""
    while True:
        temp = path.with_name(f".{path.stem}.{secrets.token_hex(4)}{path.suffix}")
        try:
            os.close(os.open(temp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        except FileExistsError:
            continue
        return temp


@contextlib.contextmanager
def staged(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path``; renamed onto it when the block succeeds.

    The temporary name keeps ``path``'s suffix (renderers pick the format by
    it) and starts with a dot; it is removed when the block fails.
    """
    path = Path(path)
    temp = _new_file(path)
    try:
        yield temp
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


@contextlib.contextmanager
def scratch(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path`` (same suffix), removed when the block ends."""
    temp = _new_file(Path(path))
    try:
        yield temp
    finally:
        temp.unlink(missing_ok=True)


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    with staged(path) as temp:
        temp.write_text(text, encoding="utf-8")
