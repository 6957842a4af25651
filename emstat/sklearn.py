"""scikit-learn estimators over emstat's fits, for ``Pipeline`` and ``GridSearchCV``.

:class:`GaussianMixture` wraps :func:`emstat.fit_mixture` with one of
mclust's covariance models; :class:`MixtureModel` wraps the same function
with a component family (Poisson, binomial, categorical, normal or mixed
columns).  Both follow scikit-learn's conventions rather than emstat's:
arrays in and out, components numbered ``0 .. k-1``, ``score`` the mean
log-likelihood per row (larger is better) and fitted attributes ending in
``_``.  The emstat result, with its tidy tables and standard errors, is kept
in ``result_``.

scikit-learn is an optional dependency: ``pip install 'emstat[sklearn]'``.

Examples
--------
>>> import emstat
>>> from emstat.sklearn import GaussianMixture
>>> X = emstat.load_dataset("faithful").to_numpy()
>>> gm = GaussianMixture(k=3, model="EEE").fit(X)
>>> round(gm.result_.loglik, 4)
-1126.3262
>>> gm.predict(X[:3]).tolist()
[0, 1, 0]
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
import pandas as pd

from emstat._optional import require
from emstat._validation import check_k_value, check_seed
from emstat.errors import DegenerateFitError, InputError

require("sklearn", "sklearn")

from sklearn.base import BaseEstimator, DensityMixin  # noqa: E402
from sklearn.utils import check_random_state  # noqa: E402
from sklearn.utils.validation import check_is_fitted, validate_data  # noqa: E402

__all__ = ["GaussianMixture", "MixtureModel"]


def feature_names(n_features: int) -> list[str]:
    """emstat's names for the columns of an array: ``x`` alone, or ``x1 .. xd``."""
    return ["x"] if n_features == 1 else [f"x{j + 1}" for j in range(n_features)]


def as_seed(random_state: Any) -> int | None:
    """An emstat seed from scikit-learn's ``random_state`` (None, a whole number, a RandomState)."""
    if random_state is None or isinstance(random_state, numbers.Integral):
        return check_seed(random_state)
    # check_random_state raises scikit-learn's ValueError for anything else
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


class _EMMixture(DensityMixin, BaseEstimator):
    """What both estimators share: validation, the fit, predictions, criteria."""

    k: int
    init: Any
    n_init: int
    tol: float | None
    criterion: str | None
    max_iter: int | None
    random_state: Any
    _allow_nan = False

    def _fit_options(self) -> dict[str, Any]:
        """The options of :func:`emstat.fit_mixture` that pick the model."""
        raise NotImplementedError

    def _validate(self, X: Any, reset: bool) -> np.ndarray:
        return np.asarray(
            validate_data(
                self,
                X,
                reset=reset,
                dtype=np.float64,
                ensure_all_finite="allow-nan" if self._allow_nan else True,
                ensure_min_samples=2 if reset else 1,
            )
        )

    def _frame(self, X: np.ndarray) -> pd.DataFrame:
        names = getattr(self, "feature_names_in_", None)
        columns = [str(c) for c in names] if names is not None else feature_names(X.shape[1])
        return pd.DataFrame(X, columns=columns)

    def fit(self, X: Any, y: Any = None) -> _EMMixture:
        """Fit the mixture to ``X`` by EM.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The rows to fit (a DataFrame's column names are kept in ``feature_names_in_``).
        y : None
            Ignored; present for the scikit-learn API.

        Returns
        -------
        self
            The fitted estimator.

        Raises
        ------
        ValueError
            Unusable data or options (:class:`emstat.InputError` is a ``ValueError``).
        emstat.DegenerateFitError
            The fit collapsed (a component without rows, a singular covariance).
        """
        from emstat.mixture.fit import fit_mixture

        x = self._validate(X, reset=True)
        k = check_k_value(self.k)
        if x.shape[0] < k:
            raise InputError(
                f"k = {k} components need at least {k} rows, got n_samples = {x.shape[0]}"
            )
        result = fit_mixture(
            self._frame(x),
            k=k,
            init=self.init,
            n_init=self.n_init,
            seed=as_seed(self.random_state),
            tol=self.tol,
            criterion=self.criterion,
            max_iter=self.max_iter,
            **self._fit_options(),
        )
        if not result.ok:
            raise DegenerateFitError(
                f"the {result.model} fit with k = {k} is degenerate: {result.degenerate}"
            )
        self._set_fitted(result, x.shape[0])
        return self

    def _set_fitted(self, result: Any, n_rows: int) -> None:
        self.result_ = result
        self.weights_ = result.weights.to_numpy()
        self.converged_ = bool(result.converged)
        self.n_iter_ = int(result.n_iter)
        # scikit-learn's lower bound is the mean log-likelihood per row
        self.lower_bound_ = float(result.loglik) / n_rows
        self.lower_bounds_ = np.asarray(result.trace, dtype=float) / n_rows

    def _checked(self, X: Any) -> pd.DataFrame:
        check_is_fitted(self, "result_")
        return self._frame(self._validate(X, reset=False))

    def predict_proba(self, X: Any) -> np.ndarray:
        """Each row's responsibilities, shape ``(n_samples, k)``; column ``j``: component ``j``."""
        frame = self._checked(X)
        return np.asarray(self.result_.predict_proba(frame).to_numpy())

    def predict(self, X: Any) -> np.ndarray:
        """The most probable component of every row, ``0 .. k-1`` (emstat's ``1 .. k`` minus 1)."""
        frame = self._checked(X)
        return np.asarray(self.result_.predict(frame).to_numpy()) - 1

    def fit_predict(self, X: Any, y: Any = None) -> np.ndarray:
        """Fit to ``X`` and return its components, as :meth:`fit` then :meth:`predict`."""
        return self.fit(X, y).predict(X)

    def score_samples(self, X: Any) -> np.ndarray:
        """Each row's log density under the fitted mixture, shape ``(n_samples,)``."""
        frame = self._checked(X)
        return np.asarray(self.result_.score_samples(frame).to_numpy())

    def score(self, X: Any, y: Any = None) -> float:
        """The mean log-likelihood per row of ``X`` (larger is better, as scikit-learn)."""
        return float(np.mean(self.score_samples(X)))

    def _criterion(self, X: Any, penalty_per_param: float | None) -> float:
        """``-2 loglik(X) + p * penalty``; the penalty per parameter is ``log n`` when None."""
        frame = self._checked(X)
        loglik = float(self.result_.score_samples(frame).sum())
        per_param = math.log(frame.shape[0]) if penalty_per_param is None else penalty_per_param
        return -2.0 * loglik + self.result_.n_params * per_param

    def bic(self, X: Any) -> float:
        """``-2 loglik(X) + p log n`` (smaller is better); on the rows fitted, ``result_.bic``."""
        return self._criterion(X, None)

    def aic(self, X: Any) -> float:
        """``-2 loglik(X) + 2 p`` (smaller is better); on the rows fitted, ``result_.aic``."""
        return self._criterion(X, 2.0)

    def sample(self, n_samples: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``n_samples`` rows from the fitted mixture, seeded by ``random_state``.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
            The draws (the modelled columns).
        y : ndarray of shape (n_samples,)
            The component, ``0 .. k-1``, each row came from.
        """
        check_is_fitted(self, "result_")
        if (
            isinstance(n_samples, (bool, np.bool_))
            or not isinstance(n_samples, numbers.Integral)
            or n_samples < 1
        ):
            raise InputError(f"n_samples must be a whole number >= 1, got {n_samples!r}")
        draws = self.result_.sample(int(n_samples), seed=as_seed(self.random_state))
        values = draws[self.result_.columns].to_numpy(dtype=float)
        return values, draws["component"].to_numpy() - 1


class GaussianMixture(_EMMixture):
    """A Gaussian mixture with any of mclust's covariance models, fitted by emstat's EM.

    Parameters
    ----------
    k : int, default 2
        The number of components.
    model : str, default "VVV"
        An mclust covariance model (``"EII"`` … ``"VVV"``; ``"E"``, ``"V"``
        in 1-D) or scikit-learn's ``"spherical"``, ``"diag"``, ``"tied"``,
        ``"full"``.  With one feature ``"VVV"`` is fitted as ``"V"``.
    init : str or array-like, optional
        The start, as :func:`emstat.fit_mixture` takes it (default: mclust's
        hierarchical start, or quantiles in 1-D).
    n_init : int, default 1
        Restarts of a random start; the best log-likelihood is kept.
    tol, criterion, max_iter : optional
        The stopping rule (:class:`emstat.EMControl`); mclust's by default.
    random_state : int, RandomState or None, default 0
        Seeds random starts, the subset of the hierarchical start on large
        data, and :meth:`sample`; None draws fresh entropy.
    reg_covar : float, default 1e-6
        Added to every covariance's diagonal in each M-step, as
        scikit-learn's ``GaussianMixture`` does, so tiny or discrete data
        stay non-singular; the log-likelihood is the regularised
        estimate's, and ``result_`` has no standard errors.  ``0`` fits the
        maximum-likelihood estimate (``emstat.fit_mixture``'s default).

    Attributes
    ----------
    weights_ : ndarray of shape (k,)
        The mixing weights.
    means_ : ndarray of shape (k, n_features)
        The component means.
    covariances_ : ndarray of shape (k, n_features, n_features)
        The component covariances, as full matrices whatever the model.
    converged_ : bool
        Whether EM met its stopping rule.
    n_iter_ : int
        The EM iterations taken.
    lower_bound_ : float
        The mean log-likelihood per row at the estimate.
    lower_bounds_ : ndarray
        The mean log-likelihood per row after every E-step.
    n_features_in_ : int
        The number of columns fitted.
    feature_names_in_ : ndarray of str
        The column names, when fitted on a DataFrame.
    result_ : emstat.MixtureResult
        The emstat fit: ``params`` with standard errors, ``bic``, ``summary()``.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> import emstat
    >>> X = emstat.load_dataset("faithful")
    >>> pipe = make_pipeline(StandardScaler(), GaussianMixture(k=3, model="EEE")).fit(X)
    >>> pipe[-1].n_iter_ > 0
    True
    """

    def __init__(
        self,
        k: int = 2,
        model: str = "VVV",
        *,
        init: Any = None,
        n_init: int = 1,
        tol: float | None = None,
        criterion: str | None = None,
        max_iter: int | None = None,
        random_state: Any = 0,
        reg_covar: float = 1e-6,
    ) -> None:
        self.k = k
        self.model = model
        self.init = init
        self.n_init = n_init
        self.tol = tol
        self.criterion = criterion
        self.max_iter = max_iter
        self.random_state = random_state
        self.reg_covar = reg_covar

    def _fit_options(self) -> dict[str, Any]:
        return {"model": self.model, "reg_covar": self.reg_covar}

    def _set_fitted(self, result: Any, n_rows: int) -> None:
        super()._set_fitted(result, n_rows)
        theta = result.params_
        self.means_ = np.array(theta.means, dtype=float)
        self.covariances_ = np.array(theta.covariances, dtype=float)


class MixtureModel(_EMMixture):
    """A mixture of a component family (Poisson, binomial, categorical, normal, mixed).

    Parameters
    ----------
    k : int, default 2
        The number of components.
    family : str, object or mapping, default "poisson"
        ``"poisson"``, ``"binomial"``, ``"categorical"``, ``"normal"`` for
        every column; an object such as ``emstat.Binomial(trials=10)``; or a
        mapping of column names (those of the DataFrame fitted, or ``x1 ..
        xd`` for an array) to families.
    trials, exposure : optional
        The binomial family's trials and the Poisson family's exposure, as a
        constant or a column name.
    fixed_weights : array-like of shape (k,), optional
        Mixing weights held fixed at these values.
    init, n_init, tol, criterion, max_iter, random_state
        As :class:`GaussianMixture` (the stopping rule defaults to Aitken's
        at 1e-10, as :func:`emstat.fit_mixture` with a family).

    Attributes
    ----------
    weights_ : ndarray of shape (k,)
        The mixing weights.
    params_ : pandas.DataFrame
        The tidy estimates: component (1..k), parameter, estimate, std_err, ci_low, ci_high.
    converged_, n_iter_, lower_bound_, lower_bounds_, n_features_in_, feature_names_in_
        As :class:`GaussianMixture`.
    result_ : emstat.FamilyMixtureResult
        The emstat fit.

    Notes
    -----
    Missing values are allowed (NaN): each is left out of its column's
    density, as emstat's families do.  The data must suit the family (whole
    counts for the Poisson family), or :meth:`fit` raises a ``ValueError``
    naming the column and row.  As in scikit-learn, the columns are numbers:
    give categories as codes (or use :func:`emstat.fit_mixture` on the
    DataFrame).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> X = np.r_[rng.poisson(2, 200), rng.poisson(12, 200)][:, None]
    >>> mm = MixtureModel(k=2, family="poisson").fit(X)
    >>> sorted(mm.params_.query("parameter != 'weight'")["estimate"].round().tolist())
    [2.0, 12.0]
    """

    _allow_nan = True

    def __init__(
        self,
        k: int = 2,
        family: Any = "poisson",
        *,
        trials: Any = None,
        exposure: Any = None,
        fixed_weights: Any = None,
        init: Any = None,
        n_init: int = 1,
        tol: float | None = None,
        criterion: str | None = None,
        max_iter: int | None = None,
        random_state: Any = 0,
    ) -> None:
        self.k = k
        self.family = family
        self.trials = trials
        self.exposure = exposure
        self.fixed_weights = fixed_weights
        self.init = init
        self.n_init = n_init
        self.tol = tol
        self.criterion = criterion
        self.max_iter = max_iter
        self.random_state = random_state

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def _fit_options(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "trials": self.trials,
            "exposure": self.exposure,
            "fixed_weights": self.fixed_weights,
        }

    def _set_fitted(self, result: Any, n_rows: int) -> None:
        super()._set_fitted(result, n_rows)
        self.params_ = result.params
