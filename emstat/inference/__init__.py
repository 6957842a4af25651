"""Inference on fitted mixtures: bootstrap, jackknife and profile-likelihood intervals.

Every fit's ``conf_int(method="wald" | "bootstrap" | "profile")`` and
``bootstrap(...)`` come here; see :mod:`emstat.inference.bootstrap` and
:mod:`emstat.inference.profile`.
"""

from emstat.inference.bootstrap import KINDS, BootstrapResult, bootstrap_fit
from emstat.inference.intervals import INTERVALS

__all__ = ["INTERVALS", "KINDS", "BootstrapResult", "bootstrap_fit"]
