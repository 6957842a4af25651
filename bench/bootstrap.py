"""Seconds for a bootstrap of 999 refits of faithful (EEE, k = 3), against mclust's
``MclustBootstrap`` in the same run.

Each kind ("bs", "wlbs", "pb", and the jackknife's 272 refits) is timed on
one process and on ``--workers`` processes, best of ``--rounds``; R's
``MclustBootstrap(m, nboot = 999, type = kind)`` is timed through rpy2 when
R and mclust are available (``--no-r`` skips it).  The target is under 2 s.

    python bench/bootstrap.py
    python bench/bootstrap.py --no-r --rounds 1

``--seed-study`` times instead the 199 parametric ("pb") refits of one fit of
the seed's simulation study (n = 100, k = 2, model V), with EM's compiled
loop against the engine's Python loop in this run, alternating: the cost of
one replicate of a study with a bootstrap interval.
"""

from __future__ import annotations

import argparse
import time
import warnings

import emstat

KINDS = ("bs", "wlbs", "pb", "jk")


def _best(function, rounds: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(rounds):
        time.sleep(0.2)
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return min(times)


def _r_seconds(kind: str, rounds: int) -> float | None:
    from emstat import _r
    from emstat.errors import EmstatError

    try:
        ro = _r.r_session()
    except EmstatError:
        return None
    if not _r.r_has_package("mclust"):
        return None
    ro.r("suppressMessages(library(mclust)); set.seed(1)")
    ro.r("m <- Mclust(faithful, G = 3, modelNames = 'EEE', verbose = FALSE)")
    call = f"MclustBootstrap(m, nboot = 999, type = '{kind}', verbose = FALSE)"
    return _best(lambda: ro.r(call), rounds)


def seed_study(rounds: int) -> None:
    """199 "pb" refits of a seed-study replicate's fit: compiled loop against Python's."""
    import numpy as np

    from emstat.mixture import _em_kernels

    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal(-0.8, 1, 50), rng.normal(0.8, 1, 50)])
    fit = emstat.fit_mixture(x[:, None], 2, model="V")
    fit.bootstrap(20, kind="pb", seed=0)  # compile outside the timings
    times: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(rounds):
        for enabled in (False, True):
            _em_kernels.enabled = enabled
            started = time.perf_counter()
            fit.bootstrap(199, kind="pb", seed=1)
            times[enabled].append(time.perf_counter() - started)
    _em_kernels.enabled = True
    python, compiled = min(times[False]), min(times[True])
    print(
        f"seed-study fit, 199 pb refits (best of {rounds}): Python loop {python * 1e3:.1f} ms "
        f"({python / 199 * 1e3:.2f} ms a refit), compiled {compiled * 1e3:.1f} ms "
        f"({compiled / 199 * 1e3:.2f} ms a refit), {python / compiled:.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-r", action="store_true")
    parser.add_argument("--seed-study", action="store_true", help="see the module docstring")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    if args.seed_study:
        seed_study(args.rounds)
        return
    fit = emstat.fit_mixture(emstat.load_dataset("faithful"), 3, model="EEE")
    fit.bootstrap(20, kind="bs", seed=0)  # compile the kernels outside the timings
    print("faithful, EEE, k = 3: 999 refits (the jackknife: 272)")
    print(
        f"{'kind':>5} {'1 process':>10} {f'{args.workers} workers':>10} {'mclust':>8} {'ratio':>6}"
    )
    for kind in KINDS:
        one = _best(lambda k=kind: fit.bootstrap(999, kind=k, seed=1), args.rounds)
        many = _best(
            lambda k=kind: fit.bootstrap(999, kind=k, seed=1, workers=args.workers), args.rounds
        )
        r = None if args.no_r else _r_seconds(kind, args.rounds)
        r_text = "n/a" if r is None else f"{r:.2f}"
        ratio = "" if r is None else f"{min(one, many) / r:.2f}"
        print(f"{kind:>5} {one:>9.2f}s {many:>9.2f}s {r_text:>8} {ratio:>6}")


if __name__ == "__main__":
    main()
