"""The output directory: a manifest, part files written as batches finish, final tables.

Layout::

    out_dir/
      run.json               command line, seed, versions, design, alignment, status
      parts/                 one replicates part per finished batch (+ parts/selection/)
      replicates.parquet     all parts, consolidated and sorted at the end
      selection.parquet      what each criterion chose (scenarios that select k)
      scenarios.csv          the grid cells
      summary.csv            per scenario x component x parameter
      selection_summary.csv  per scenario x criterion x chosen (k, model): share

Every file is written to a temporary name and renamed into place, so a run
killed at any moment leaves only complete files; a rerun with the same
design reads the parts that exist and computes only what is missing.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from emstat.errors import InputError
from emstat.simulation.replicate import BatchResult

__all__ = ["OUTPUT_FILES", "StudyDir"]

RUN_FORMAT = "emstat.simulation/1"
OUTPUT_FILES = (
    "run.json",
    "replicates.parquet",
    "selection.parquet",
    "scenarios.csv",
    "summary.csv",
    "selection_summary.csv",
)
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


def _atomic_write_bytes(path: Path, write: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    os.replace(tmp, path)


def write_json(path: Path, payload: dict[str, Any]) -> None:
    _atomic_write_bytes(path, lambda tmp: tmp.write_text(json.dumps(payload, indent=1)))


def write_parquet(path: Path, frame: pd.DataFrame) -> None:
    _atomic_write_bytes(path, lambda tmp: frame.to_parquet(tmp, index=False))


def write_csv(path: Path, frame: pd.DataFrame) -> None:
    _atomic_write_bytes(path, lambda tmp: frame.to_csv(tmp, index=False))


@dataclass(frozen=True)
class StudyDir:
    """An output directory of one simulation study."""

    path: Path

    @property
    def manifest_path(self) -> Path:
        return self.path / "run.json"

    @property
    def parts(self) -> Path:
        return self.path / "parts"

    @property
    def selection_parts(self) -> Path:
        return self.parts / "selection"

    # --- opening -------------------------------------------------------------------
    def read_manifest(self) -> dict[str, Any] | None:
        if not self.manifest_path.is_file():
            return None
        try:
            payload = json.loads(self.manifest_path.read_text())
        except json.JSONDecodeError:
            return None
        return payload if isinstance(payload, dict) else None

    def clear(self) -> None:
        """Remove the files a study writes (and only those)."""
        for name in OUTPUT_FILES:
            (self.path / name).unlink(missing_ok=True)
        shutil.rmtree(self.parts, ignore_errors=True)

    def open(self, design: dict[str, Any], *, overwrite: bool) -> bool:
        """Make the directory ready; return True when it already holds a finished study.

        Raises
        ------
        InputError
            When the directory holds a study of a different design, or other
            files, and ``overwrite`` is false.
        """
        manifest = self.read_manifest()
        if overwrite:
            self.clear()
            manifest = None
        elif manifest is not None:
            if manifest.get("design") != json.loads(json.dumps(design)):
                raise InputError(
                    f"{str(self.path)!r} holds a study of a different design; "
                    "pass --overwrite to replace it or choose another --out-dir"
                )
        elif self.path.exists() and any(self.path.iterdir()):
            raise InputError(
                f"{str(self.path)!r} exists and is not an emstat simulation output; "
                "choose another --out-dir or pass --overwrite"
            )
        if (
            manifest is not None
            and manifest.get("status") == "complete"
            and (self.path / "replicates.parquet").is_file()
        ):
            return True
        self.path.mkdir(parents=True, exist_ok=True)
        self.selection_parts.mkdir(parents=True, exist_ok=True)
        for stale in self.parts.rglob(".*.tmp"):
            stale.unlink(missing_ok=True)
        return False

    def write_manifest(self, payload: dict[str, Any]) -> None:
        write_json(self.manifest_path, {"format": RUN_FORMAT, **payload})

    def update_manifest(self, **changes: Any) -> None:
        payload = self.read_manifest() or {}
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
        write_parquet(self.parts / name, result.rows)

    def done(self) -> set[tuple[int, int]]:
        """(scenario, replicate) pairs whose rows are saved in part files."""
        pairs: set[tuple[int, int]] = set()
        for part in sorted(self.parts.glob("s*.parquet")):
            ids = pd.read_parquet(part, columns=["scenario", "replicate"]).drop_duplicates()
            pairs.update(zip(ids["scenario"].tolist(), ids["replicate"].tolist(), strict=True))
        return pairs

    # --- consolidation -------------------------------------------------------------
    @staticmethod
    def _concat(files: Iterable[Path]) -> pd.DataFrame | None:
        frames = [pd.read_parquet(f) for f in sorted(files)]
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
        shutil.rmtree(self.parts, ignore_errors=True)

    def read_results(self) -> tuple[pd.DataFrame, pd.DataFrame | None]:
        rows = pd.read_parquet(self.path / "replicates.parquet")
        sel_path = self.path / "selection.parquet"
        return rows, (pd.read_parquet(sel_path) if sel_path.is_file() else None)


def now() -> str:
    """The time in UTC, ISO 8601, for the manifest."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
