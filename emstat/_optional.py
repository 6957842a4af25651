"""Lazy imports of optional dependencies, with an error that names the extra."""

from __future__ import annotations

import importlib
from types import ModuleType

from emstat.errors import OptionalDependencyError


def require(module: str, extra: str) -> ModuleType:
    """Import ``module`` or raise an error telling the user which extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise OptionalDependencyError(
            f"{module!r} is needed for this; install it with: pip install 'emstat[{extra}]' ({exc})"
        ) from exc
