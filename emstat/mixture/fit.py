"""``fit_mixture``: pandas in, a :class:`MixtureResult` out."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from emstat._validation import (
    NumericData,
    as_numeric_data,
    check_bool,
    check_k,
    check_k_value,
    check_not_constant,
    check_seed,
    check_squares_finite,
    check_whole,
    count_distinct_rows,
    describe_labels,
)
from emstat.engine import EMControl, EMResult, fit_em, run_e_step
from emstat.errors import DegenerateFitError, InputError
from emstat.families import is_gaussian
from emstat.mixture import classification_em, gaussian
from emstat.mixture import missing as incomplete
from emstat.mixture._mclust_start import mclust_hard_start
from emstat.mixture._parallel import fit_restarts, restart_workers
from emstat.mixture.covariance import CovarianceModel, check_inner_tol, get_covariance_model
from emstat.mixture.family_fit import FAMILY_CONTROL
from emstat.mixture.gaussian import GaussianParams, GaussianStats
from emstat.mixture.init import StartingPartition, draws_at_random, labels_to_resp, make_starts
from emstat.mixture.known_labels import labels_option
from emstat.mixture.model import GaussianMixtureModel
from emstat.mixture.prior import (
    DataMoments,
    GaussianPrior,
    as_prior,
    prior_moments,
    resolve_prior,
)
from emstat.mixture.result import MixtureResult
from emstat.mixture.sources import (
    DEFAULT_CHUNK_ROWS,
    SpillSource,
    connected,
    is_out_of_core,
    open_source,
)
from emstat.results import restart_table, run_fields

if TYPE_CHECKING:
    from emstat.mixture.hc import QuantileCuts  # hc loads its compiled kernels: imported lazily

__all__ = ["MixtureFitter", "fit_mixture"]

# One normal with missing cells has no closed form and EM converges linearly: the rule that
# takes it to its MLE (a prior's moments; k = 1 under the default rule).
_MOMENTS_CONTROL = EMControl(tol=1e-13, criterion="abs", max_iter=100_000)


@dataclass(frozen=True)
class FitData:
    """The rows EM runs on, centred once, and the rows its starts come from."""

    columns: list[str]
    n: int
    center: np.ndarray
    x: Any  # centred rows: an ndarray, or a ChunkedData source streamed per E-step
    sample: np.ndarray  # raw rows the starting partitions use (all rows when in memory)
    raw: np.ndarray | None  # the raw rows when they are in memory (standard errors need them)
    index: pd.Index | None = None  # the rows' labels when in memory (init labels align to them)
    weights: np.ndarray | None = None  # case weights (None: every row counts once)
    missing: incomplete.MissingLayout | None = None  # where cells are missing (in-memory data)

    @property
    def d(self) -> int:
        return len(self.columns)

    @property
    def size(self) -> float:
        """The sample size of the criteria: the rows, or the sum of their case weights."""
        if self.weights is None:
            return self.n
        total = float(self.weights.sum())
        return int(total) if total.is_integer() else total

    def start_rows(self, x: np.ndarray, rows: np.ndarray | None) -> Any:
        """Rows a starting partition covers, with their case weights when there are any."""
        if self.weights is None:
            return x
        return gaussian.WeightedRows(x, self.weights if rows is None else self.weights[rows])


def prepare_data(
    data: Any,
    columns: Sequence[str] | None = None,
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    sample_size: int = 2000,
    seed: int | None = 0,
    client: Any = None,
    weights: Any = None,
    missing: str = "em",
) -> FitData:
    """Validate and centre in-memory data, or open an out-of-core source.

    ``weights`` (a column name or one number per row) are case weights;
    a weights column is not modelled.  ``missing="em"`` keeps rows with NaN
    cells for EM with their observed-data likelihood
    (:mod:`emstat.mixture.missing`); ``"error"`` refuses them.
    """
    missing = incomplete.check_missing(missing)
    if weights is not None and (client is not None or is_out_of_core(data)):
        raise InputError("case weights need the data in memory (a DataFrame or an array)")
    if client is not None or is_out_of_core(data):
        source = open_source(
            data,
            columns,
            chunk_rows=chunk_rows,
            sample_size=sample_size,
            seed=seed,
            client=client,
            missing=missing,
        )
        layout = None
        if source.missing is not None:
            nowhere = np.empty(0, dtype=np.int64)  # the rows are not in memory
            layout = incomplete.MissingLayout(
                source.missing, nowhere, source.sample_rows, source.starts_imputed
            )
        return FitData(
            source.columns, source.n, source.center, source, source.sample, None, missing=layout
        )
    row_weights = None
    if weights is not None:
        from emstat.mixture.family_fit import as_frame, case_weights

        frame = as_frame(data)
        row_weights = case_weights(frame, weights)
        if isinstance(weights, str):
            if columns is None:
                columns = [c for c in frame.columns if c != weights]
            elif weights in columns:
                raise InputError(f"column {weights!r} is both modelled and used as weights")
        if row_weights is not None and (row_weights == 0).any():
            # rows of weight 0 carry no information: left out, of the starts too
            frame, row_weights = frame[row_weights > 0], row_weights[row_weights > 0]
        data = frame
    numeric = as_numeric_data(data, columns, allow_missing=missing == "em")
    if missing == "em" and not numeric.complete and np.isnan(numeric.values).any():
        if row_weights is not None:
            raise InputError(
                "case weights with missing values are not supported; drop the incomplete rows "
                "or fit without weights"
            )
        return _prepare_incomplete(numeric)
    center, centred = _centre_complete(numeric)
    return FitData(
        numeric.columns,
        numeric.n,
        center,
        centred if row_weights is None else gaussian.WeightedRows(centred, row_weights),
        numeric.values,
        numeric.values,
        numeric.index,
        row_weights,
    )


def _centre_complete(numeric: NumericData) -> tuple[np.ndarray, np.ndarray]:
    """The column means and the centred rows (C order) of finite data, checked usable.

    One pass of column minima and maxima serves both checks: a column is
    constant where they are equal, and ``max(high - center, center - low)``
    is exactly the largest absolute centred value (rounding is monotone).
    """
    values = numeric.values
    low, high = values.min(axis=0), values.max(axis=0)
    check_not_constant(numeric, high - low)
    # the bits of values.mean(axis=0), which divides the same sum by n, without its overhead
    center = values.sum(axis=0) / values.shape[0]
    # C order: the compiled E-step reads rows; F-ordered rows were copied every iteration
    centred = np.ascontiguousarray(values - center)
    check_squares_finite(centred, numeric.columns, np.maximum(high - center, center - low))
    return center, centred


def _prepare_incomplete(numeric: Any) -> FitData:
    """In-memory rows with NaN cells: EM on every row that has an observed value."""
    prepared = incomplete.prepare_incomplete(numeric.values, numeric.columns)
    kept = prepared.layout.kept
    check_squares_finite(np.nan_to_num(numeric.values[kept] - prepared.center), numeric.columns)
    return FitData(
        numeric.columns,
        int(kept.size),
        prepared.center,
        prepared.x,
        prepared.sample,
        numeric.values,
        numeric.index,
        None,
        prepared.layout,
    )


def check_options(
    *,
    seed: Any,
    hc_subset: Any,
    mclust_compatible: Any,
    n_init: Any = 1,
    chunk_rows: Any = DEFAULT_CHUNK_ROWS,
    reg_covar: Any = 0.0,
    prior: Any = None,
    inner_tol: Any = None,
) -> int | None:
    """Refuse a bad option before any data are read; returns the seed."""
    check_reg_covar(reg_covar)
    if as_prior(prior) is not None and reg_covar != 0:
        raise InputError("give either a prior or reg_covar, not both: each regularises the fit")
    if inner_tol is not None:
        check_inner_tol(inner_tol)
    check_whole(n_init, "n_init")
    check_whole(hc_subset, "hc_subset", minimum=2)
    check_whole(chunk_rows, "chunk_rows")
    check_bool(mclust_compatible, "mclust_compatible")
    return check_seed(seed)


def check_other_family_missing(missing: Any) -> None:
    """The other families always marginalise missing values: only ``missing="em"`` is theirs."""
    if incomplete.check_missing(missing) != "em":
        raise InputError(
            f"missing={missing!r} serves the Gaussian family; the other families marginalise "
            "missing values (missing='em')"
        )


def check_other_family_options(*, reg_covar: Any, prior: Any, inner_tol: Any) -> None:
    """Refuse the options that serve the Gaussian family only (one line naming the option)."""
    if reg_covar != 0:
        raise InputError("reg_covar serves the Gaussian family only")
    if prior is not None:
        raise InputError("prior serves the Gaussian family only")
    if inner_tol is not None:
        raise InputError("inner_tol serves the Gaussian family's iterative M-steps only")


def check_reg_covar(reg_covar: Any) -> float:
    """``reg_covar`` as a float: a finite number >= 0 (InputError naming it otherwise)."""
    if isinstance(reg_covar, bool) or not isinstance(reg_covar, (int, float, np.number)):
        raise InputError(f"reg_covar must be a finite number >= 0, got {reg_covar!r}")
    value = float(reg_covar)
    if not math.isfinite(value) or value < 0:
        raise InputError(f"reg_covar must be a finite number >= 0, got {reg_covar!r}")
    return value


def _align_to_rows(init: Any, index: pd.Index | None) -> Any:
    """Init labels or responsibilities given as pandas objects, put in the data's row order."""
    if not isinstance(init, (pd.Series, pd.DataFrame)) or index is None:
        return init
    if not init.index.equals(index):
        unmatched = [label for label in init.index if label not in index]
        unmatched += [label for label in index if label not in init.index]
        if unmatched or not (init.index.is_unique and index.is_unique):
            shown = describe_labels(unmatched) if unmatched else "a repeated label"
            raise InputError(
                f"the init {type(init).__name__}'s index does not match the data's rows "
                f"({shown}); pass .to_numpy() to use the labels by position"
            )
        init = init.reindex(index)
    return init.to_numpy()


@dataclass
class MixtureFitter:
    """Fits mixtures to one data set, sharing the centred data and the hc tree across fits.

    ``select_mixture`` fits every (k, model) pair from the same starting
    partition, as mclust does; this object computes that partition once.
    """

    data: FitData
    control: EMControl = field(default_factory=EMControl)
    init: Any = None
    n_init: int = 1
    seed: int | None = 0
    hc_subset: int = 2000
    mclust_compatible: bool = False
    reg_covar: float = 0.0
    prior: GaussianPrior | None = None
    labels: Any = None  # KnownLabels: rows whose component is known (semi-supervised)
    inner_tol: float | None = None
    algorithm: str = "em"
    workers: int = 1  # processes for the restarts of one fit
    _sample: np.ndarray = field(init=False, repr=False)
    _starts: dict[tuple[str, int], StartingPartition] = field(init=False, repr=False)
    _hc: Any = field(init=False, repr=False, default=None)
    _cuts: QuantileCuts | None = field(init=False, repr=False, default=None)  # a 1-D sample
    _distinct: int | None = field(init=False, repr=False, default=None)
    # What every cell of a selection shares: each deterministic start's statistics
    # (per scatter kind) and the one-component fits (per unconstrained model).
    _shared_stats: dict[tuple[int, str], tuple[StartingPartition, GaussianStats]] = field(
        init=False, repr=False, default_factory=dict
    )
    _one_component: dict[str, EMResult[GaussianParams, GaussianStats]] = field(
        init=False, repr=False, default_factory=dict
    )
    _moments: Any = field(init=False, repr=False, default=None)
    _cem_init: bool = field(init=False, repr=False, default=False)

    def __post_init__(self) -> None:
        self.prior = as_prior(self.prior)
        self._sample = self.data.sample - self.data.center
        self._starts = {}
        self.algorithm = classification_em.check_algorithm(self.algorithm)
        if isinstance(self.init, str) and self.init == "cem":
            # CEM from the default start, then EM from CEM's partition
            self._cem_init, self.init = True, None
        if (self._cem_init or self.algorithm == "sem") and self.data.raw is None:
            what = "init='cem'" if self._cem_init else "algorithm='sem'"
            raise InputError(f"{what} needs the data in memory (a DataFrame or an array)")
        if self.data.missing is not None:
            self._check_missing_combination()
        if self.init is None:
            self.init = "quantile" if self.data.d == 1 else "hc"
        if self.data.raw is None and not isinstance(self.init, str):
            raise InputError("init labels or responsibilities need data in memory")
        self.init = _align_to_rows(self.init, self.data.index)
        if self.data.missing is not None and not isinstance(self.init, str):
            self.init = _start_rows_of(self.init, self.data.missing)

    def _check_missing_combination(self) -> None:
        """Refuse what the missing-data E-step does not serve yet (one line naming it)."""
        if self.labels is not None:
            what = "known labels"
        elif self.algorithm != "em" or self._cem_init:
            what = f"algorithm={self.algorithm!r}" if self.algorithm != "em" else "init='cem'"
        else:
            return
        raise InputError(
            f"{what} cannot be combined with missing cells yet; "
            "drop the incomplete rows or impute them first"
        )

    # --- starting partitions ----------------------------------------------------
    def _deterministic_start(self, method: str, k: int) -> StartingPartition:
        key = (method, k)
        if key not in self._starts:
            self._starts[key] = self._compute_start(method, k)
        return self._starts[key]

    def _compute_start(self, method: str, k: int) -> StartingPartition:
        from emstat.mixture import hc  # numba's kernels: a fit without numba fails here

        if method == "quantile":
            if self.data.d != 1:
                raise InputError("init='quantile' is for 1-D data; use 'hc' or 'kmeans++'")
            labels = self._quantile_cuts().classes(k)
            return StartingPartition(labels_to_resp(labels, k), "quantile")
        if self._hc is None:
            self._hc = hc.hc_tree(
                self.data.sample,
                subset=self.hc_subset,
                seed=self.seed,
                mclust_compatible=self.mclust_compatible,
            )
        part = self._hc.partition(k)
        rows = None if part.rows.size == self.data.sample.shape[0] else part.rows
        return StartingPartition(labels_to_resp(part.labels, k), "hc", rows=rows)

    def _quantile_cuts(self) -> QuantileCuts:
        """The 1-D sample sorted once for the quantile starts of every k."""
        if self._cuts is None:
            from emstat.mixture import hc

            self._cuts = hc.QuantileCuts.of(self.data.sample[:, 0])
        return self._cuts

    def _distinct_rows(self) -> int:
        # Counted once per data set: selection checks every k against it.
        if self._distinct is None:
            if self.data.d == 1 and isinstance(self.init, str) and self.init == "quantile":
                self._distinct = self._quantile_cuts().distinct  # the sort the starts need
            else:
                self._distinct = count_distinct_rows(self.data.sample)
        return self._distinct

    def _stats_of_start(
        self, em_model: GaussianMixtureModel, start: StartingPartition, rows: Any
    ) -> GaussianStats:
        """The statistics of ``start``'s rows: computed once per deterministic start and
        scatter kind, since every model of a selection starts from the same partition."""
        if start.method not in ("hc", "quantile"):
            return em_model.stats_from_responsibilities(rows, start.resp)
        key = (start.resp.shape[1], em_model.covariance.scatter)
        cached = self._shared_stats.get(key)
        if cached is None or cached[0] is not start:
            cached = (start, em_model.stats_from_responsibilities(rows, start.resp))
            self._shared_stats[key] = cached
        return cached[1]

    def fitted_rows(self) -> Any:
        """What a result keeps for its standard errors: the rows, or their spill file.

        A Dask collection is not kept: its client may be gone when the
        standard errors are first asked for.
        """
        if self.data.missing is not None and self.data.raw is not None:
            return incomplete.IncompleteData(self.data.raw, self.data.index)
        if self.data.weights is not None and self.data.raw is not None:
            return gaussian.WeightedRows(self.data.raw, self.data.weights)
        if self.data.raw is not None:
            return self.data.raw
        return self.data.x if isinstance(self.data.x, SpillSource) else None

    def prime(self, k: int) -> None:
        """Compute the deterministic start for ``k`` now (before worker processes fork)."""
        if self.labels is not None:
            return  # a labelled fit starts from its labels
        if isinstance(self.init, str) and self.init in ("hc", "quantile") and k > 1:
            self._deterministic_start(self.init, k)

    def too_many_components(self, k: int) -> str | None:
        """Why ``k`` components cannot be estimated here (more than the distinct rows), or None."""
        if k <= 1 or k <= self._distinct_rows():
            return None
        of = "" if self.data.raw is not None else " of a sample of the data"
        return f"k = {k} exceeds the {self._distinct_rows()} distinct rows{of}"

    def starts(self, k: int, rng: np.random.Generator | None) -> list[StartingPartition]:
        """The starting partitions of a k-component fit (the hc and quantile ones cached)."""
        return make_starts(self._sample, k, self.init, self.n_init, rng, self._deterministic_start)

    # --- fitting ----------------------------------------------------------------
    def covariance_model(self, name: str) -> CovarianceModel:
        """Covariance model ``name`` with this fitter's M-step options (mclust arithmetic, tol)."""
        return get_covariance_model(
            name, self.data.d, mclust_compatible=self.mclust_compatible, inner_tol=self.inner_tol
        )

    def not_estimable(self, k: int, model: str, reason: str) -> MixtureResult:
        """A selection cell that cannot be fitted: NaN criteria and the reason (mclust's NA)."""
        covariance = self.covariance_model(model)
        em = _failed(self.control, reason, n_iter=0)
        return self._result(self._model(covariance, k), em, "none", None)

    def fit(self, k: int, model: str) -> MixtureResult:
        k = check_k(k, self._distinct_rows, self.data.raw is not None)
        if self.labels is not None:
            from emstat.mixture.known_labels import fit_known_labels

            return fit_known_labels(self, self.labels, k, model)
        covariance = self.covariance_model(model)
        em_model = self._model(covariance, k)
        # A generator costs more than a small fit's E-step: made only where it draws.
        draws = self.algorithm == "sem" or draws_at_random(self.init)
        rng = np.random.default_rng(self.seed) if draws else None
        starts = self.starts(k, rng)
        # CEM and SEM: the same model's M-step after a hard E-step (SEM draws from rng)
        runner = classification_em.hard_model(em_model, self.algorithm, rng)
        cem_notes: list[str] = []

        def run(start: StartingPartition) -> EMResult[GaussianParams, GaussianStats]:
            x_start = self._sample if start.rows is None else self._sample[start.rows]
            start_rows = self.data.start_rows(x_start, start.rows)
            if k == 1:
                # Every model with one component is the unconstrained one of its
                # family, fitted in closed form as mclust's mvn does, without the
                # iterative M-steps' singularity tests (by EM when cells are missing).
                equivalent = _one_component_equivalent(covariance.name)
                if self.data.missing is None and equivalent in self._one_component:
                    return self._one_component[equivalent]  # the same fit for every model
                one_component = self._model(get_covariance_model(equivalent, self.data.d), 1)
                stats0 = em_model.stats_from_responsibilities(start_rows, start.resp)
                if self.data.missing is None:
                    fitted = _closed_form(one_component, self.data.x, stats0, self.control)
                    self._one_component[equivalent] = fitted
                    return fitted
                # no closed form with missing cells: EM run to the MLE unless told otherwise
                one_control = _MOMENTS_CONTROL if self.control == EMControl() else self.control
                return fit_em(
                    one_component,
                    self.data.x,
                    stats0=stats0,
                    control=one_control,
                    n_obs=self.data.size,
                    warn=len(starts) == 1,
                )
            stats0 = self._stats_of_start(em_model, start, start_rows)
            em_run = runner
            if (
                self.mclust_compatible
                and self.data.weights is None
                and self.prior is None
                and self.algorithm == "em"
                and not self._cem_init
            ):
                # a hard start's singular group as mclust treats it (EEV, VEV, VEE;
                # its arithmetic is that of mclust's EM M-steps without a prior)
                raw = self.data.sample if start.rows is None else self.data.sample[start.rows]
                em_run = mclust_hard_start(em_model, raw, start.resp)
            if self._cem_init:
                stats0, note = classification_em.cem_then_em(
                    em_model, self.data.x, stats0, self.control, n_obs=self.data.size
                )
                cem_notes.append(note)
            elif self.algorithm != "em":
                stats0 = runner.stats_from_responsibilities(start_rows, start.resp)
            if self.mclust_compatible and start.rows is not None and not self._cem_init:
                # As Mclust: an M-step on the subset and an E-step on all rows,
                # then me() from those responsibilities with its state reset.
                try:
                    theta = em_run.m_step(stats0, None)
                except DegenerateFitError as exc:
                    return _failed(self.control, str(exc))
                stats0, _ = run_e_step(em_run, theta, self.data.x)
            return fit_em(
                em_run,
                self.data.x,
                stats0=stats0,
                control=self.control,
                n_obs=self.data.size,
                # SEM ends at its cap as a rule, not as a failure to converge
                warn=len(starts) == 1 and self.algorithm != "sem",
            )

        best, runs = fit_restarts(run, starts, restart_workers(self, len(starts)))
        best = classification_em.best_run(best, runs, self.algorithm)
        restarts = restart_table(runs, [s.method for s in starts]) if len(runs) > 1 else None
        position = next(i for i, r in enumerate(runs) if r is best)
        method = starts[position].method
        if cem_notes:
            method = f"cem from {method} ({cem_notes[position]}), then EM"
        return self._result(em_model, best, method, restarts)

    def _model(self, covariance: CovarianceModel, k: int) -> GaussianMixtureModel:
        return GaussianMixtureModel(
            covariance, k, float(self.reg_covar), self._prior(covariance, k)
        )

    def _prior(self, covariance: CovarianceModel, k: int) -> Any:
        """The prior's hyperparameters for this k and model, in the centred rows' units."""
        if self.prior is None:
            return None
        if self._moments is None:  # the data's moments, read once per data set
            self._moments = self._data_moments()
        resolved = resolve_prior(self.prior, self._moments, k, covariance.name)
        return resolved.shifted(self.data.center)

    def _data_moments(self) -> DataMoments:
        """The column means and ``var`` a default prior reads from the data.

        With missing cells they are the observed-data maximum-likelihood
        mean and covariance of one normal (missing at random), the covariance
        times n / (n - 1) as R's ``var`` divides.
        """
        if self.data.missing is None:
            return prior_moments(self.data.x, self.data.center)
        d = self.data.d
        one = GaussianMixtureModel(get_covariance_model("V" if d == 1 else "VVV", d), 1)
        stats0 = one.stats_from_responsibilities(self._sample, np.ones((len(self._sample), 1)))
        em = fit_em(one, self.data.x, stats0=stats0, control=_MOMENTS_CONTROL, warn=False)
        if not em.ok or em.theta is None:
            raise DegenerateFitError(f"the prior's data moments: {em.degenerate}")
        n = float(self.data.size)
        covariance = em.theta.covariances[0].reshape(d, d) * n / max(n - 1.0, 1.0)
        return DataMoments(n, em.theta.means[0] + self.data.center, covariance)

    def _prior_text(self, em_model: GaussianMixtureModel) -> str | None:
        """The fit's prior in words, its mean in the data's units."""
        if em_model.prior is None:
            return None
        return em_model.prior.shifted(-self.data.center).describe()

    def _result(
        self,
        em_model: GaussianMixtureModel,
        em: EMResult[GaussianParams, GaussianStats],
        init: str,
        restarts: pd.DataFrame | None,
    ) -> MixtureResult:
        theta = em.theta if em.ok else None
        # The rows are kept for plots and predictions; the observed information is the
        # unregularised likelihood's: not at a ridged estimate, nor at a posterior mode,
        # nor at CEM's or SEM's (no maximum of the likelihood).
        rows = self.fitted_rows()
        at_mle = self.reg_covar == 0 and self.prior is None and self.algorithm == "em"
        layout = self.data.missing
        classification_loglik = math.nan
        if theta is not None and em.stats is not None:
            # Every run ends with an E-step at theta, which summed ICL's entropy term.
            classification_loglik = em.stats.classification_loglik
        return MixtureResult(
            model=em_model.covariance.name,
            k=em_model.k,
            columns=self.data.columns,
            n=self.data.size,
            params_=None if theta is None else theta.shifted(self.data.center),
            n_params=em_model.n_params(self.data.d),
            init=init if layout is None or init == "none" else f"{init} {layout.start_rule}",
            classification_loglik=classification_loglik,
            **run_fields(em, theta is not None),
            restarts=restarts,
            reg_covar=float(self.reg_covar),
            prior=self._prior_text(em_model),
            algorithm=self.algorithm,
            # one component's closed form has no objective of its own: every z is 1
            objective=(em.loglik if math.isnan(em.objective) else em.objective)
            if theta is not None
            else math.nan,
            data_=rows if theta is not None else None,
            std_error_method="observed information"
            if theta is not None and rows is not None and layout is None and at_mle
            else None,
            missing=None if layout is None else layout.summary,
        )


def _start_rows_of(init: Any, layout: incomplete.MissingLayout) -> Any:
    """User labels or responsibilities of every row given, cut to the rows starts use."""
    if isinstance(init, tuple):
        raise InputError(
            "init=(rows, labels) is not offered for data with missing values; "
            "give a label for every row"
        )
    array = np.asarray(init)
    n = layout.summary.total_rows
    if array.ndim in (1, 2) and array.shape[0] != n:
        raise InputError(f"init has {array.shape[0]} rows of labels; the data have {n} rows")
    return array[layout.sample_rows] if array.ndim in (1, 2) else array


def _one_component_equivalent(name: str) -> str:
    """The model a single component of ``name`` is: spherical, diagonal or full."""
    if len(name) == 1:
        return "V"
    return {"I": "VII" if name[1] == "I" else "VVI"}.get(name[2], "VVV")


def _failed(
    control: EMControl, reason: str, n_iter: int = 1
) -> EMResult[GaussianParams, GaussianStats]:
    """A run whose first M-step was already degenerate (or, n_iter = 0, that never ran)."""
    return EMResult(
        None, None, math.nan, np.empty(0), n_iter, False, "degenerate", 0.0, control, reason
    )


def _closed_form(
    model: GaussianMixtureModel, x: Any, stats0: GaussianStats, control: EMControl
) -> EMResult[GaussianParams, GaussianStats]:
    """One component: the M-step of all rows is the maximum-likelihood estimate."""
    try:
        theta = model.m_step(stats0, None)
    except DegenerateFitError as exc:
        return _failed(control, str(exc))
    stats, loglik = run_e_step(model, theta, x)
    return EMResult(theta, stats, loglik, np.array([loglik]), 1, True, "closed form", 0.0, control)


def make_control(
    control: EMControl | None,
    tol: float | None,
    criterion: str | None,
    max_iter: int | None,
    defaults: EMControl | None = None,
) -> EMControl:
    """An :class:`EMControl` from either an object or its fields (the rest from ``defaults``)."""
    if control is not None and any(v is not None for v in (tol, criterion, max_iter)):
        raise InputError("give either control= or tol/criterion/max_iter, not both")
    if control is not None:
        return control
    defaults = defaults or EMControl()
    return EMControl(
        tol=defaults.tol if tol is None else tol,
        criterion=defaults.criterion if criterion is None else criterion,  # type: ignore[arg-type]
        max_iter=defaults.max_iter if max_iter is None else max_iter,
    )


def fit_mixture(
    data: Any,
    k: int,
    model: str | None = None,
    *,
    columns: Sequence[str] | None = None,
    init: Any = None,
    n_init: int = 1,
    seed: int | None = 0,
    control: EMControl | None = None,
    tol: float | None = None,
    criterion: str | None = None,
    max_iter: int | None = None,
    hc_subset: int = 2000,
    mclust_compatible: bool = False,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    client: Any = None,
    family: Any = None,
    weights: Any = None,
    trials: Any = None,
    exposure: Any = None,
    fixed_weights: Any = None,
    reg_covar: float = 0.0,
    prior: Any = None,
    labels: Any = None,
    noise: Any = None,
    Vinv: float | None = None,
    inner_tol: float | None = None,
    algorithm: str = "em",
    missing: str = "em",
    workers: int = 1,
) -> Any:
    """Fit a k-component mixture by EM: Gaussian by default, or any component family.

    Parameters
    ----------
    data
        A DataFrame (numeric columns, or those named in ``columns``), a
        Series, or an array; or, for data larger than memory, an iterator of
        DataFrame chunks, a list of Parquet/CSV files, or a Dask DataFrame
        or array (see :mod:`emstat.mixture.sources`).  Out-of-core data
        start from a seeded sample of ``hc_subset`` rows.
    k
        Number of components.
    model
        An mclust covariance model (``"E"``, ``"V"`` in 1-D; ``"EII"`` …
        ``"VVV"``) or scikit-learn's ``"spherical"``, ``"diag"``, ``"tied"``,
        ``"full"``.  Default ``"V"`` in 1-D and ``"VVV"`` otherwise.
    init
        ``"hc"`` (default for d > 1: mclust's hierarchical agglomeration, on
        a seeded subset of ``hc_subset`` rows when n is larger),
        ``"quantile"`` (default for d = 1), ``"kmeans++"``, ``"random"``,
        a vector of labels or an n x k responsibility matrix, or a pair
        ``(rows, labels)`` that partitions some rows only: the first M-step
        then uses those rows, as mclust does with its subset (pass R's subset
        and ``hclass`` labels to start exactly as R did on large data).
        Labels or responsibilities given as a pandas Series or DataFrame are
        matched to the data's rows by index (an index that does not match is
        refused); arrays and lists are taken by position.  Missing labels
        are refused.  ``"cem"``: classification EM from the default start,
        then EM from its partition (see ``algorithm``).
    n_init
        Restarts (random inits only); the best log-likelihood is kept (under
        ``algorithm="cem"`` the best classification log-likelihood, its
        objective) and every restart is reported in ``result.restarts``.
    workers
        Processes the Gaussian restarts run on (forked, where the platform
        forks; 1: this process), with the same result as one process.  It
        pays when ``n_init`` is large; data with missing cells, ``init="cem"``
        and ``algorithm="sem"`` restart in this process.
    control, tol, criterion, max_iter
        The stopping rule (:class:`emstat.EMControl`); for Gaussian mixtures
        mclust's ``|l_old - l| / (1 + |l|) <= 1e-5`` by default, for the
        other families Aitken's rule at 1e-10 (their EM often crawls).
    hc_subset
        Rows the hierarchical start agglomerates at most (mclust's 2,000);
        larger data use a subset drawn from ``seed`` (R's generator cannot be
        matched: pass ``init=labels`` to start exactly as R did).
    mclust_compatible
        Run mclust 6.0's own VEE, EVE and VVE M-steps (see
        :class:`emstat.mixture.covariance.CovarianceModel`) and its
        hierarchical start as ``hcVVV`` computes it (see
        :func:`emstat.mixture.hc.hc_merges`), and treat a hard start's group
        of at most d rows as mclust's EEV, VEV and VEE do; the default
        M-steps iterate to the exact constrained maximum and the default
        start is exact.
    seed
        A whole number >= 0 (or None) that seeds every random choice: random
        starts and the hc subset of large data.
    chunk_rows
        Rows per chunk when streaming out-of-core data (bounds the memory).
    client
        A Dask ``distributed.Client`` or scheduler address: each E-step then
        maps over the partitions on the cluster.
    family
        ``"gaussian"`` (default: multivariate, with ``model``'s covariance
        structure), ``"poisson"``, ``"binomial"``, ``"categorical"`` (latent
        classes) or ``"normal"`` for every column in ``columns``; an object
        such as ``emstat.Binomial(trials="n")``; or a mapping of columns to
        families for mixed columns under local independence.  Other families
        than the Gaussian return a :class:`~emstat.mixture.family_fit.FamilyMixtureResult`;
        their missing values are marginalised (missing at random), and
        ``init`` may also be a mapping of start parameters by name.
    weights
        Frequency weights: a column name or one number per row; a weight
        of 2 counts a row twice, rows of weight 0 are left out, and the
        criteria's n is the sum of the weights (sampling weights, which
        need a sandwich variance, are not offered).
    trials, exposure
        The binomial family's number of trials and the Poisson family's
        exposure: a column name or a constant.
    fixed_weights
        Mixing weights held fixed at these values (k numbers summing to 1).
    reg_covar
        A ridge (Gaussian family only), as scikit-learn's: each M-step adds
        ``reg_covar * n_k * I`` to component k's scatter, so VVV covariances
        are ``S_k / n_k + reg_covar * I`` and the other models are fitted to
        the ridged scatter.  The log-likelihood, BIC, AIC and ICL are those
        of the regularised estimate (not a maximum of the likelihood, so no
        standard errors are computed).  A finite number >= 0; 0 (default)
        fits the maximum-likelihood estimate.  Columns are not rescaled
        first: the ridge is in the data's units.
    prior
        ``"mclust"`` (mclust's ``priorControl()`` defaults) or an
        :class:`emstat.GaussianPrior` with some hyperparameters given
        (Gaussian family only): EM then maximises the posterior
        (:mod:`emstat.mixture.prior`) for every covariance model, as
        ``Mclust(..., prior = priorControl())`` does for the ten it
        supports.  The log-likelihood, its stopping rule, BIC, AIC and ICL
        exclude the prior (BIC = 2 loglik - df log n, as mclust's); no
        standard errors are computed for the posterior mode.
    labels
        Known labels (semi-supervised, as mclust's ``MclustSSC``): a column
        name (that column is not modelled), a Series matched to the rows by
        index, or one value per row; NaN or None marks a row whose class is
        unknown.  Class c (the sorted classes, or a Categorical's order) is
        component c, so k is at least the number of classes; labelled rows
        keep their responsibilities at their class and EM maximises (and
        BIC uses) ``sum over labelled rows of log(pi_c f_c(x)) + sum over
        unlabelled rows of log sum_k pi_k f_k(x)``.  It starts as
        MclustSSC does (``init`` is not used) and stops, by default, as it
        does: an absolute change of the log-likelihood of at most 1e-5.
        ``fit.known_labels.classification`` gives every row's class.  See
        :mod:`emstat.mixture.known_labels`.
    noise
        mclust's uniform noise component for outliers (Gaussian family,
        data in memory): ``True``, or the start's noise rows as a boolean
        column name, Series or array (mclust's ``initialization =
        list(noise = )``).  ``True`` starts from the rows that
        :func:`emstat.mixture.noise.nearest_neighbour_clutter` marks (Byers
        & Raftery's nearest-neighbour clutter model).  The noise is
        component 0 of ``predict``; ``k = 0`` fits noise only.  See
        :mod:`emstat.mixture.noise`.
    Vinv
        The noise component's density (a finite number > 0); default
        ``1 / hypvol(data)`` as mclust's: the smaller of the volumes of the
        columns' bounding box and of the principal components' box.
    inner_tol
        Relative tolerance of the iterative M-steps (VEI, VEE, EVE, VVE,
        VEV); default ``sqrt(eps)``, mclust's ``emControl()$tol[2]``.
        mclust's ``emControl(tol = t)`` sets both of its tolerances to ``t``:
        ``tol=t, inner_tol=t`` reproduces it (with ``mclust_compatible=True``).
    algorithm
        ``"em"`` (default); ``"cem"``, classification EM: each E-step
        assigns every row to its most probable component (ties to the
        lowest), each M-step fits that partition, and the classification
        log-likelihood ``sum_i log(pi_z f_z(x_i))`` is the objective the
        stopping rule follows (it stops at the latest where the partition
        repeats); or ``"sem"``, stochastic EM: each E-step draws the
        assignments from the responsibilities (seeded by ``seed``), not
        monotone, stopped as flexmix's SEM by the rule on the observed-data
        log-likelihood (flexmix's defaults, relative 1e-6 and at most 200
        iterations, unless a rule is given) and reporting the last iterate.
        Both start from the hard start partition, serve every family, and
        report the observed-data log-likelihood at their estimate (BIC
        uses it) and their objective (``result.objective``); their
        estimates are no maximum of the likelihood, so standard errors are
        not computed.  ``init="cem"`` instead runs CEM from the default
        start and then EM from CEM's partition (data in memory).  See
        :mod:`emstat.mixture.classification_em`.
    missing
        Gaussian family: ``"em"`` (default) fits rows with NaN cells by
        their observed-data likelihood, the E-step taking conditional
        Gaussian expectations of the missing coordinates; it assumes the
        values are missing at random.  Rows with every value missing are
        left out with one warning that counts them; starts come from the
        complete rows (or, when fewer than ``10 (d + 1)`` are complete, from
        every row with its missing cells set to the column's mean).  The
        summary, ``params.attrs["missing"]`` and the saved fit count the
        missing cells and rows; :meth:`~emstat.mixture.result.MixtureResult.impute`
        fills them.  ``"error"`` refuses NaN, naming the row and column.
        See :mod:`emstat.mixture.missing`.

    Examples
    --------
    >>> import emstat
    >>> fit = emstat.fit_mixture(emstat.load_dataset("faithful"), k=3, model="EEE")
    >>> round(fit.loglik, 4)
    -1126.3262
    """
    from emstat.mixture.noise import noise_only, split_noise_column, uses_noise

    noisy = uses_noise(noise, Vinv)
    k = 0 if noisy and noise_only(k) else check_k_value(k)
    algorithm = classification_em.check_algorithm(algorithm)
    check_algorithm_combination(algorithm, init, labels=labels is not None, noise=noisy)
    seed = check_options(
        seed=seed,
        hc_subset=hc_subset,
        mclust_compatible=mclust_compatible,
        n_init=n_init,
        chunk_rows=chunk_rows,
        reg_covar=reg_covar,
        prior=prior,
        inner_tol=inner_tol,
    )
    workers = check_whole(workers, "workers")
    columns, known, labels_control = labels_option(
        data,
        labels,
        columns,
        family=family,
        noise=noisy,
        weights=weights,
        init=init,
        n_init=n_init,
        out_of_core=client is not None or is_out_of_core(data),
    )
    if noisy and not is_gaussian(family):
        raise InputError("the noise component serves the Gaussian family only")
    columns, noise_column = split_noise_column(data, columns, noise)
    if not is_gaussian(family):
        check_other_family_options(reg_covar=reg_covar, prior=prior, inner_tol=inner_tol)
        check_other_family_missing(missing)
        return _fit_other_family(
            data,
            k,
            model,
            family=family,
            columns=columns,
            weights=weights,
            trials=trials,
            exposure=exposure,
            fixed_weights=fixed_weights,
            init=init,
            n_init=n_init,
            seed=seed,
            control=make_control(
                control, tol, criterion, max_iter, algorithm_defaults(algorithm, FAMILY_CONTROL)
            ),
            client=client,
            algorithm=algorithm,
        )
    if trials is not None or exposure is not None:
        raise InputError("trials and exposure belong to the binomial and Poisson families")
    if fixed_weights is not None:
        raise InputError(
            "fixed mixing weights serve the other families; the Gaussian family estimates them"
        )
    with connected(client) as live_client:
        prepared = prepare_data(
            data,
            columns,
            chunk_rows=chunk_rows,
            sample_size=hc_subset,
            seed=seed,
            client=live_client,
            weights=weights,
            missing=missing,
        )
        return _fit_prepared(
            prepared,
            k,
            model,
            make_control(
                control, tol, criterion, max_iter, labels_control or algorithm_defaults(algorithm)
            ),
            init=init,
            n_init=n_init,
            seed=seed,
            hc_subset=hc_subset,
            mclust_compatible=mclust_compatible,
            reg_covar=float(reg_covar),
            prior=prior,
            labels=known,
            noise=(noise, noise_column, Vinv) if noisy else None,
            inner_tol=inner_tol,
            algorithm=algorithm,
            workers=workers,
        )


def check_algorithm_combination(algorithm: str, init: Any, *, labels: bool, noise: bool) -> None:
    """Refuse CEM, SEM or ``init="cem"`` with known labels or a noise component (not built)."""
    hard = algorithm != "em" or (isinstance(init, str) and init == "cem")
    if hard and (labels or noise):
        given = f"algorithm={algorithm!r}" if algorithm != "em" else "init='cem'"
        what = "known labels" if labels else "a noise component"
        raise InputError(f"{given} cannot be combined with {what} yet")


def algorithm_defaults(algorithm: str, defaults: EMControl | None = None) -> EMControl | None:
    """The stopping rule's defaults: SEM's own (flexmix's), else ``defaults``."""
    return classification_em.SEM_CONTROL if algorithm == "sem" else defaults


def _fit_other_family(data: Any, k: int, model: str | None, **options: Any) -> Any:
    from emstat.mixture.family_fit import fit_family_mixture

    family = options.pop("family")
    if model is not None:
        raise InputError(
            f"model={model!r} is a Gaussian covariance model; the {family!r} family has none"
        )
    if options.pop("client") is not None:
        raise InputError("a Dask client serves the Gaussian family only")
    return fit_family_mixture(data, k, family, **options)


def _fit_prepared(
    prepared: FitData,
    k: int,
    model: str | None,
    control: EMControl,
    noise: tuple[Any, Any, Any] | None = None,
    **options: Any,
) -> MixtureResult:
    fitter = MixtureFitter(prepared, control=control, **options)
    if noise is not None:
        from emstat.mixture.noise import with_noise

        fitter = with_noise(fitter, *noise)
    if model is None:
        model = "V" if prepared.d == 1 else "VVV"
    return fitter.fit(k, model)
