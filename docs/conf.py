"""Sphinx configuration of emstat's reference: autodoc reads the docstrings, numpydoc parses
them, and every module in ``API_MODULES`` gets a page (written into ``api/`` at each build)."""

from __future__ import annotations

import importlib.util
import inspect
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import emstat  # noqa: E402

#: Classes whose members a subclass's page leaves out.
FOREIGN_BASES = [
    "BaseEstimator",
    "_MetadataRequester",
    "DensityMixin",
    "BaseException",
    "ImportError",
    "Protocol",
    "tuple",
]

#: One page each, in this order; one line adds a module.
API_MODULES = [
    "emstat",
    "emstat.sklearn",
    "emstat.families",
    "emstat.engine",
    "emstat.results",
    "emstat.errors",
    "emstat.mixture",
    "emstat.mixture.missing",
    "emstat.mixture.known_labels",
    "emstat.mixture.classification_em",
    "emstat.mixture.prior",
    "emstat.mixture.noise",
    "emstat.hmm",
    "emstat.inference",
    "emstat.categorical",
    "emstat.segment",
    "emstat.plotting",
    "emstat.simulation",
    "emstat.report",
    "emstat.crosscheck",
    "emstat.datasets",
]

project = "emstat"
author = "the emstat authors"
copyright = "the emstat authors, MIT licence"
release = version = emstat.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "numpydoc",
]
exclude_patterns = ["_build"]

autodoc_member_order = "groupwise"
autodoc_typehints = "none"  # numpydoc's parameter lists carry the types
autodoc_default_options = {"show-inheritance": True}

numpydoc_show_class_members = False  # autodoc's :members: lists them
numpydoc_xref_param_type = False

html_theme = "pydata_sphinx_theme"
html_title = f"emstat {release}"
html_theme_options = {"navigation_with_keys": False, "show_toc_level": 2}


def _top_level() -> list[str]:
    return [n for n in emstat.__all__ if not n.startswith("_")]


def _shadowing(name: str) -> bool:
    """``emstat.report`` is both the function emstat exports and a module: the function is
    documented on the module's page (``emstat.report.report``), so the two names differ."""
    obj = getattr(emstat, name)
    return not inspect.ismodule(obj) and importlib.util.find_spec(f"emstat.{name}") is not None


def module_page(module: str) -> str:
    """A module's page: its docstring and members.  The names ``emstat`` exports are
    documented once, on the page of ``emstat``."""
    lines = [module, "=" * len(module), "", f".. automodule:: {module}", "   :members:"]
    lines.append("   :undoc-members:")  # a public name without a docstring still shows
    # what a class inherits from emstat's bases (criteria, the estimators' methods) shows on
    # the class; what it inherits from Python's and scikit-learn's does not
    lines.append(f"   :inherited-members: {', '.join(FOREIGN_BASES)}")
    leaf = module.rsplit(".", 1)[-1]
    if module == "emstat":
        excluded = [n for n in _top_level() if _shadowing(n)]
    else:
        excluded = [n for n in _top_level() if not (n == leaf and _shadowing(n))]
    if excluded:
        lines.append(f"   :exclude-members: {', '.join(excluded)}")
    return "\n".join(lines) + "\n"


def write_api_pages(app: Any) -> None:
    """``api/<module>.rst`` for every module, and ``api/index.rst`` listing them in order."""
    folder = HERE / "api"
    folder.mkdir(exist_ok=True)
    for module in API_MODULES:
        page = folder / f"{module}.rst"
        text = module_page(module)
        if not page.is_file() or page.read_text() != text:  # unchanged pages stay unchanged
            page.write_text(text)
    index = "\n".join(
        [
            "Modules",
            "=======",
            "",
            ".. toctree::",
            "   :maxdepth: 1",
            "",
            *(f"   {module}" for module in API_MODULES),
        ]
    )
    if not (folder / "index.rst").is_file() or (folder / "index.rst").read_text() != index + "\n":
        (folder / "index.rst").write_text(index + "\n")


def _public(bases: Any) -> list[Any]:
    out: list[Any] = []
    for base in bases:
        private = getattr(base, "__name__", "").startswith("_")
        out += _public(base.__bases__) if private else [base]
    return out


def public_bases(app: Any, name: str, obj: Any, options: Any, bases: list[Any]) -> None:
    """Show a private base class as the public bases it stands for."""
    bases[:] = _public(bases)


def setup(app: Any) -> None:
    app.connect("builder-inited", write_api_pages)
    app.connect("autodoc-process-bases", public_bases)
