"""How simulation studies undo label switching (recorded in run.json and the summary)."""

from __future__ import annotations

from emstat.mixture.align import match_components

__all__ = ["ALIGNMENT", "match_components"]

#: How components are aligned: Hungarian matching of fitted to true means (for the
#: other families, of the parameters on the link scale: log rates, logit probabilities).
ALIGNMENT = "hungarian-means-euclidean"
