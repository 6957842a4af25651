"""The output directory: a manifest, part files written as batches finish, final tables.

Layout::

    out_dir/
      run.json               command line, seed, versions, design, status, files written
      .emstat.lock           while a run writes here (see :mod:`emstat.simulation.lock`)
      parts/                 one replicates part per finished batch (+ parts/selection/)
      replicates.parquet     all parts, consolidated and sorted at the end
      selection.parquet      what each criterion chose (scenarios that select k)
      scenarios.csv          the grid cells
      summary.csv            per scenario x component x parameter
      selection_summary.csv  per scenario x criterion x chosen (k, model): share

Every file is written by :func:`atomic_write` (a temporary file in the same
directory, fsync, rename), so a run killed at any moment leaves only complete
files; a rerun with the same design reads the parts that exist and computes
only what is missing.  A part that cannot be read all the same (a damaged
disk, a copy cut short) is moved aside as ``*.corrupt`` and its replicates
are computed again.

emstat writes only into a directory that is new, empty, or holds its
``run.json``; ``--overwrite`` removes only the files that manifest records
and the part files emstat names, never anything else.
"""

from __future__ import annotations

import json
import os
import platform
import re
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from emstat.errors import InputError
from emstat.simulation.errors import StudyWarning
from emstat.simulation.lock import LOCK_NAME
from emstat.simulation.replicate import REPLICATE_COLUMNS, BatchResult

__all__ = ["OUTPUT_FILES", "StudyDir", "atomic_write", "output_files"]

RUN_FORMAT = "emstat.simulation/1"
MANIFEST = "run.json"
OUTPUT_FILES = (
    MANIFEST,
    "replicates.parquet",
    "selection.parquet",
    "scenarios.csv",
    "summary.csv",
    "selection_summary.csv",
)
_SELECTION_FILES = ("selection.parquet", "selection_summary.csv")
_PART = re.compile(r"s\d+_r\d+-\d+\.parquet")
_TMP = re.compile(r"\.(?P<name>.+)\.\d+\.tmp")  # what atomic_write leaves when killed
_CORRUPT = ".corrupt"
_AGAIN = "computing its replicates again"
_PACKAGES = ("emstat", "numpy", "scipy", "pandas", "pyarrow", "numba", "dask", "distributed")


def package_versions() -> dict[str, str | None]:
    """Versions of Python and of the packages that decide a study's numbers."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def output_files(selects: bool) -> list[str]:
    """The top-level files a study writes (the selection tables only when it selects k)."""
    return [name for name in OUTPUT_FILES if selects or name not in _SELECTION_FILES]


# --------------------------------------------------------------------------- #
# atomic writes: the one place that puts a file on disk
# --------------------------------------------------------------------------- #


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - not every platform opens directories
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - e.g. some network filesystems
        pass
    finally:
        os.close(fd)


def atomic_write(path: Path, write: Callable[[Path], Any]) -> None:
    """Write ``path`` through ``write(tmp)``: a temporary file beside it, fsync, rename.

    Readers, and a rerun after a crash, see the old file or the whole new
    one, never a part of it.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _base(name: str) -> str:
    """The file a temporary or set-aside copy is of."""
    tmp = _TMP.fullmatch(name)
    return tmp.group("name") if tmp else name.removesuffix(_CORRUPT)


def _is_part(name: str) -> bool:
    """A part file emstat names, or a temporary or set-aside copy of one."""
    return _PART.fullmatch(_base(name)) is not None


def _is_temporary(name: str) -> bool:
    """A temporary copy of an output or a part (left when a write was killed)."""
    return _TMP.fullmatch(name) is not None and (_is_part(name) or _base(name) in OUTPUT_FILES)


def _drop_temporary(folder: Path) -> None:
    """Remove the temporary files a killed write left in ``folder``."""
    for stale in folder.glob(".*.tmp"):
        if _is_temporary(stale.name):
            stale.unlink(missing_ok=True)


def write_json(path: Path, payload: dict[str, Any]) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(payload, indent=1)))


def write_parquet(path: Path, frame: pd.DataFrame) -> None:
    atomic_write(path, lambda tmp: frame.to_parquet(tmp, index=False))


def write_csv(path: Path, frame: pd.DataFrame) -> None:
    atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False))


def _read_part(path: Path, columns: Iterable[str]) -> pd.DataFrame:
    """A part file, checked: readable, with its columns and at least one row."""
    frame = pd.read_parquet(path)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"missing columns {missing}")
    if frame.empty:
        raise ValueError("no rows")
    return frame


def _reason(exc: Exception, limit: int = 140) -> str:
    lines = str(exc).strip().splitlines()
    text = f"{type(exc).__name__}: {lines[0] if lines else ''}"
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True)
class StudyDir:
    """An output directory of one simulation study."""

    path: Path
    #: The parts this run wrote, by path: consolidation takes them from here rather than
    #: reading back what was just written (parts of an earlier run are read).  They stay
    #: in memory for the run: the consolidated table holds them all at the end anyway.
    _written: dict[Path, pd.DataFrame] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @property
    def manifest_path(self) -> Path:
        return self.path / MANIFEST

    @property
    def lock_path(self) -> Path:
        return self.path / LOCK_NAME

    @property
    def parts(self) -> Path:
        return self.path / "parts"

    @property
    def selection_parts(self) -> Path:
        return self.parts / "selection"

    # --- opening -------------------------------------------------------------------
    def read_manifest(self) -> dict[str, Any] | None:
        """The manifest, or None when there is none or it is not emstat's."""
        if not self.manifest_path.is_file():
            return None
        try:
            payload = json.loads(self.manifest_path.read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(payload, dict) or payload.get("format") != RUN_FORMAT:
            return None
        return payload

    def _others(self) -> list[str]:
        """What the directory holds besides a lock (the lock is emstat's, and may be ours)."""
        return sorted(
            p.name for p in self.path.iterdir() if p.name != LOCK_NAME and not _is_temporary(p.name)
        )

    def check(self) -> None:
        """Refuse, before any work, a path that emstat may not write into.

        Raises
        ------
        InputError
            When the path is a file, or a directory without an emstat manifest
            that holds other files (``--overwrite`` does not change this: it
            replaces only what emstat wrote).
        """
        existing = next(p for p in (self.path, *self.path.parents) if p.exists() or p == p.parent)
        if existing.exists() and not existing.is_dir():
            where = "" if existing == self.path else f" (in {str(self.path)!r})"
            raise InputError(f"--out-dir {str(existing)!r} is a file, not a directory{where}")
        if not self.path.is_dir() or self.read_manifest() is not None:
            return
        others = self._others()
        if not others:
            return
        shown = ", ".join(others[:5]) + (", ..." if len(others) > 5 else "")
        why = (
            "its run.json cannot be read as an emstat manifest"
            if MANIFEST in others
            else "it has no run.json"
        )
        raise InputError(
            f"{str(self.path)!r} is not an emstat simulation output ({why}) and holds other "
            f"files ({shown}); choose a new or empty --out-dir (--overwrite replaces only "
            "files emstat wrote)"
        )

    def create(self) -> None:
        """Make the directory (and its parents) if it does not exist."""
        self.check()
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(
                f"cannot create --out-dir {str(self.path)!r}: {exc.strerror}"
            ) from None

    def _remove_parts(self) -> None:
        """Remove the part files emstat names (and their temporary and set-aside copies)."""
        self._written.clear()
        for folder in (self.selection_parts, self.parts):
            if not folder.is_dir():
                continue
            for entry in folder.iterdir():
                if entry.is_file() and _is_part(entry.name):
                    entry.unlink(missing_ok=True)
            try:
                folder.rmdir()
            except OSError:  # it holds something emstat did not write: leave it
                pass

    def clear(self) -> None:
        """Remove the files this study's manifest records and its parts, and nothing else."""
        manifest = self.read_manifest()
        if manifest is None:
            return
        recorded = manifest.get("files")
        names = recorded if isinstance(recorded, list) else list(OUTPUT_FILES)
        self._remove_parts()
        for name in names:
            # Plain names only: a manifest never sends a removal outside the directory.
            if isinstance(name, str) and name != MANIFEST and Path(name).name == name:
                (self.path / name).unlink(missing_ok=True)
                (self.path / f"{name}{_CORRUPT}").unlink(missing_ok=True)
        _drop_temporary(self.path)
        # The manifest goes last: until then the directory is still known to be emstat's.
        self.manifest_path.unlink(missing_ok=True)

    def open(self, design: dict[str, Any], *, overwrite: bool) -> bool:
        """Make the directory ready (the caller holds its lock); True when the study is finished.

        Raises
        ------
        InputError
            When the directory holds a study of a different design and
            ``overwrite`` is false, or is not emstat's (see :meth:`check`).
        """
        self.create()
        manifest = self.read_manifest()
        if manifest is not None and overwrite:
            self.clear()
            manifest = None
        elif manifest is not None and manifest.get("design") != json.loads(json.dumps(design)):
            raise InputError(
                f"{str(self.path)!r} holds a study of a different design; "
                "pass --overwrite to replace it or choose another --out-dir"
            )
        return (
            manifest is not None
            and manifest.get("status") == "complete"
            and (self.path / "replicates.parquet").is_file()
        )

    def begin(self) -> None:
        """Make the part folders and drop temporary files a killed run left."""
        self.selection_parts.mkdir(parents=True, exist_ok=True)
        for folder in (self.path, self.parts, self.selection_parts):
            _drop_temporary(folder)

    def write_manifest(self, payload: dict[str, Any]) -> None:
        write_json(self.manifest_path, {"format": RUN_FORMAT, **payload})

    def update_manifest(self, **changes: Any) -> None:
        payload = self.read_manifest() or {"format": RUN_FORMAT}
        payload.update(changes)
        write_json(self.manifest_path, payload)

    # --- parts ---------------------------------------------------------------------
    @staticmethod
    def _part_name(result: BatchResult) -> str:
        first, last = min(result.replicates), max(result.replicates)
        return f"s{result.scenario:05d}_r{first:07d}-{last:07d}.parquet"

    def write_part(self, result: BatchResult) -> None:
        """Save one finished batch (selection first: a batch is done once its rows exist)."""
        name = self._part_name(result)
        if result.selection is not None:
            write_parquet(self.selection_parts / name, result.selection)
            self._written[self.selection_parts / name] = result.selection
        write_parquet(self.parts / name, result.rows)
        self._written[self.parts / name] = result.rows

    def _set_aside(self, path: Path, exc: Exception, then: str) -> None:
        """Rename a damaged file ``*.corrupt``, and say so and what follows.

        A damaged part stays until the study finishes (then its replicates
        are saved anew); a damaged final table stays until ``--overwrite``.
        """
        target = path.with_name(path.name + _CORRUPT)
        os.replace(path, target)
        rel = path.relative_to(self.path)
        warnings.warn(
            f"{rel} in {str(self.path)!r} cannot be read ({_reason(exc)}); moved it aside to "
            f"{target.name} and {then}",
            StudyWarning,
            stacklevel=3,
        )

    def done(self, selecting: Iterable[int] = ()) -> set[tuple[int, int]]:
        """(scenario, replicate) pairs whose rows (and selection, if ``selecting``) are saved.

        A part that cannot be read is moved aside, with a warning, and its
        replicates are left to compute again; so is the rest of its batch
        (the rows of a batch whose selection part is damaged, and the other
        way round), so that no replicate is ever saved twice.
        """
        selects = set(selecting)
        pairs: set[tuple[int, int]] = set()
        kept: set[str] = set()
        for part in sorted(p for p in self.parts.glob("s*.parquet") if _PART.fullmatch(p.name)):
            try:
                rows = _read_part(part, REPLICATE_COLUMNS)
            except Exception as exc:  # any reason the part is unusable: recompute it
                self._set_aside(part, exc, _AGAIN)
                continue
            scenario = int(rows["scenario"].iloc[0])
            if scenario in selects:
                twin = self.selection_parts / part.name
                try:
                    _read_part(twin, ("scenario", "replicate", "criterion"))
                except Exception as exc:
                    if twin.exists():
                        self._set_aside(twin, exc, _AGAIN)
                    part.unlink()  # complete, but its batch is recomputed whole
                    continue
            kept.add(part.name)
            ids = rows[["scenario", "replicate"]].drop_duplicates()
            pairs.update(zip(ids["scenario"].tolist(), ids["replicate"].tolist(), strict=True))
        # Selection parts of batches whose rows were never written (or were set aside).
        for orphan in self.selection_parts.glob("s*.parquet"):
            if _PART.fullmatch(orphan.name) and orphan.name not in kept:
                orphan.unlink()
        return pairs

    # --- consolidation -------------------------------------------------------------
    def _part_frame(self, path: Path) -> pd.DataFrame:
        """A part's rows: as this run wrote them, else read from the file."""
        written = self._written.get(path)
        return pd.read_parquet(path) if written is None else written

    def _concat(self, files: Iterable[Path]) -> pd.DataFrame | None:
        frames = [self._part_frame(f) for f in sorted(files) if _PART.fullmatch(f.name)]
        if not frames:
            return None
        frame = pd.concat(frames, ignore_index=True)
        # Within a replicate rows keep the order the runner wrote them in.
        frame = frame.sort_values(["scenario", "replicate"], kind="stable").reset_index(drop=True)
        return frame

    def consolidate(self) -> tuple[pd.DataFrame, pd.DataFrame | None]:
        """Gather the parts into ``replicates.parquet`` (and ``selection.parquet``)."""
        rows = self._concat(self.parts.glob("s*.parquet"))
        if rows is None:
            raise InputError(f"{str(self.path)!r} has no replicate parts to consolidate")
        selection = self._concat(self.selection_parts.glob("s*.parquet"))
        write_parquet(self.path / "replicates.parquet", rows)
        if selection is not None:
            write_parquet(self.path / "selection.parquet", selection)
        return rows, selection

    def remove_parts(self) -> None:
        self._remove_parts()

    def read_results(self, selects: bool) -> tuple[pd.DataFrame, pd.DataFrame | None] | None:
        """The finished tables; None when one cannot be read (it is moved aside, with a warning).

        The caller then runs the study again: from the parts, when a run was
        stopped before removing them, else by recomputing every replicate
        (the same numbers: each replicate has its own random stream).
        """
        names = ["replicates.parquet", *(["selection.parquet"] if selects else [])]
        tables: list[pd.DataFrame] = []
        for name in names:
            path = self.path / name
            try:
                tables.append(pd.read_parquet(path))
            except Exception as exc:  # damaged or missing: rebuild it
                if path.exists():
                    kept = any(_is_part(p.name) for p in self.parts.glob("s*.parquet"))
                    how = "from the saved parts" if kept else "by computing every replicate again"
                    self._set_aside(path, exc, f"rebuilding it {how}")
                self.update_manifest(status="running")
                return None
        return tables[0], (tables[1] if selects else None)


def now() -> str:
    """The time in UTC, ISO 8601, for the manifest."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
