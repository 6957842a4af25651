"""Start-up time: ``import emstat`` and ``emstat --help`` (target: at most 0.3 s each).

Run: ``python bench/startup.py [--runs 5]``.  Each case runs in a fresh
Python process, ``--runs`` times, and the best wall time is kept (this
machine's speed drifts; see README.md).  ``python -c pass`` is timed the
same way, as the floor every command pays.  Each case also lists which
heavy modules it loaded: ``import emstat`` should load none of them, and
``emstat --help`` only typer and rich.  Neither loads numba, so the kernel
cache plays no part.  ``--before REV`` times the same cases on the package
as it was at git revision REV, in the same run, and prints the ratios.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 0.3
HEAVY = ("numpy", "pandas", "scipy", "numba", "matplotlib", "pyarrow", "typer", "rich")
ROOT = Path(__file__).resolve().parent.parent

# What the ``emstat`` script runs (pyproject: emstat = "emstat.cli:main").
_HELP = "import sys; sys.argv[0] = 'emstat'; from emstat.cli import main; main()"
CASES = {
    "python -c pass": ["-c", "pass"],
    "import emstat": ["-c", "import emstat"],
    "emstat --help": ["-c", _HELP, "--help"],
}
_LOADED = "import sys, atexit; atexit.register(lambda: print(*sorted({}), file=sys.stderr))"


def _env(root: Path) -> dict[str, str]:
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": str(root) + (os.pathsep + path if path else "")}


def best_time(args: list[str], runs: int, root: Path) -> float:
    """The fastest of ``runs`` fresh processes ``python ARGS`` (emstat from ``root``)."""
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, *args], env=_env(root), cwd=root, check=True, stdout=subprocess.DEVNULL
        )
        best = min(best, time.perf_counter() - started)
        time.sleep(0.2)
    return best


def heavy_modules(args: list[str], root: Path) -> list[str]:
    """The HEAVY modules a process running ``python -c CODE ...`` has loaded when it exits."""
    probe = _LOADED.format(f"m for m in {HEAVY!r} if m in sys.modules") + "\n" + args[1]
    done = subprocess.run(
        [sys.executable, "-c", probe, *args[2:]],
        env=_env(root),
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stderr.split()


def checkout(rev: str, folder: Path) -> Path:
    """The ``emstat`` package as it was at ``rev``, unpacked into ``folder``."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, "emstat"], capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="fresh processes per case")
    parser.add_argument("--before", metavar="REV", help="also time git revision REV")
    options = parser.parse_args()
    print(f"best of {options.runs} fresh processes; target {TARGET_S} s")
    with tempfile.TemporaryDirectory() as tmp:
        before = checkout(options.before, Path(tmp)) if options.before else None
        extra = f" {options.before} s | now / {options.before} |" if before else ""
        print(f"| case | seconds | target |{extra} loaded |")
        print("|---|---:|---:|" + ("---:|---:|" if before else "") + "---|")
        for name, args in CASES.items():
            seconds = best_time(args, options.runs, ROOT)
            floor = name.startswith("python")
            target = "" if floor else ("met" if seconds <= TARGET_S else "MISSED")
            row = f"| {name} | {seconds:.3f} | {target} |"
            if before is not None:
                old = best_time(args, options.runs, before)
                row += f" {old:.3f} | {seconds / old:.2f} |"
            loaded = ", ".join(heavy_modules(args, ROOT)) or "none"
            print(f"{row} {loaded} |")


if __name__ == "__main__":
    main()
