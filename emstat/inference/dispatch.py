"""``fit.conf_int(level, method=...)`` of every mixture fit: one dispatcher for all families."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from emstat.errors import InputError
from emstat.results import wald_z

__all__ = ["METHODS", "conf_int_by_method"]

#: Interval methods of ``conf_int``.
METHODS = ("wald", "bootstrap", "profile")

_BOOTSTRAP_OPTIONS = (
    "boot",
    "interval",
    "n_boot",
    "kind",
    "seed",
    "workers",
    "control",
    "scheduler",
    "start",
)
_PROFILE_OPTIONS = ("parameters", "control", "max_evaluations")


def _check_options(method: str, options: dict[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        choices = ", ".join(allowed) if allowed else "none"
        raise InputError(
            f"conf_int(method={method!r}) does not take {', '.join(unknown)}; "
            f"its options: {choices}"
        )


def conf_int_by_method(
    fit: Any,
    level: float,
    method: str,
    options: dict[str, Any],
    wald: Callable[[float], pd.DataFrame],
) -> pd.DataFrame:
    """The fit's intervals by ``method``; ``wald(level)`` is its Wald table (with ``scale``,
    and its ``method`` column or not).

    ``bootstrap`` takes ``boot`` (a :class:`~emstat.inference.BootstrapResult`
    to reuse) or the arguments of ``fit.bootstrap``, and ``interval``;
    ``profile`` takes ``parameters`` (labels ``"component:parameter"``).
    """
    wald_z(level)
    if method == "wald":
        _check_options(method, options, ())
        table = wald(level)
        if "method" not in table.columns:  # a family whose table does not name it yet
            table["method"] = "wald"
        return table
    if method == "bootstrap":
        _check_options(method, options, _BOOTSTRAP_OPTIONS)
        from emstat.inference.bootstrap import BootstrapResult, bootstrap_fit

        options = dict(options)
        boot = options.pop("boot", None)
        interval = options.pop("interval", None)
        if boot is None:
            boot = bootstrap_fit(fit, **options)
        elif not isinstance(boot, BootstrapResult):
            raise InputError(f"boot must be a BootstrapResult, got {type(boot).__name__}")
        elif options:
            raise InputError(
                f"give boot= or the bootstrap's options ({', '.join(sorted(options))}), not both"
            )
        return boot.conf_int(level, interval)
    if method == "profile":
        _check_options(method, options, _PROFILE_OPTIONS)
        from emstat.inference.profile import profile_conf_int

        return profile_conf_int(fit, level, **options)
    raise InputError(f"unknown interval method {method!r}; choose one of {', '.join(METHODS)}")
