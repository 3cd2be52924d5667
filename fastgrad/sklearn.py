"""scikit-learn estimators over fastgrad's compiled gradient-descent fits.

``GDRegressor`` wraps :func:`fastgrad.fit_linear_regression` and ``GDClassifier``
wraps :func:`fastgrad.fit_logistic_regression` (two classes) or
:func:`fastgrad.fit_softmax_regression` (three or more).  They are thin: input is checked
with scikit-learn's own ``validate_data`` (so pipelines, ``GridSearchCV``, pandas column
names and ``check_estimator`` behave as for any scikit-learn estimator), then one compiled
fit runs.  Nothing is standardised for you; put a ``StandardScaler`` in front in a
``Pipeline`` when the features have very different scales.

Both fit on dask arrays too (X a ``dask.array.Array``; y and ``sample_weight`` dask or
NumPy): the fit runs on the Dask scheduler through :mod:`fastgrad`'s Dask path, and X never
comes to the client.  On a dask X, ``predict``, ``decision_function``, ``predict_proba``
and ``predict_log_proba`` return lazy dask arrays with X's row chunks (call
``.compute()`` for NumPy); ``score`` computes.

scikit-learn is an optional dependency (``pip install fastgrad[sklearn]``): ``import
fastgrad`` does not import it, this module does.

>>> import numpy as np
>>> from fastgrad.sklearn import GDRegressor
>>> X = np.array([[0.0], [1.0], [2.0], [3.0]]); y = 2 * X[:, 0] + 1
>>> reg = GDRegressor(lr=0.1, epochs=5000, tol=1e-10).fit(X, y)
>>> np.round(reg.coef_, 4).tolist(), round(reg.intercept_, 4)
([2.0], 1.0)
"""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted

from ._losses import fit_linear_regression, fit_logistic_regression, fit_softmax_regression
from ._results import FitResult
from ._validation import check_workers, is_dask_collection

try:  # scikit-learn >= 1.6
    from sklearn.utils.validation import validate_data as _validate_data
except ImportError:  # pragma: no cover - older scikit-learn: the same check as a method
    def _validate_data(estimator: Any, /, *args: Any, **kwargs: Any) -> Any:
        return estimator._validate_data(*args, **kwargs)

__all__ = ["GDClassifier", "GDRegressor"]

ArrayLike = Any

#: X is fitted in its own precision when it is float32 or float64; anything else -> float64.
_DTYPES = [np.float64, np.float32]


class _GDBase(BaseEstimator):
    """The fit and the linear output shared by the two estimators."""

    lr: float
    epochs: int
    max_norm: float | None
    tol: float | None
    l2: float
    fit_intercept: bool
    n_jobs: int | None
    optimizer: Any
    batch_size: int | None
    shuffle: bool
    random_state: Any

    def _fit_result(self, X: np.ndarray, y: np.ndarray,
                    sample_weight: ArrayLike | None, loss: str) -> FitResult:
        fit: Any = {"mse": fit_linear_regression, "logistic": fit_logistic_regression,
                    "softmax": fit_softmax_regression}[loss]
        result = fit(X, y, lr=self.lr, epochs=self.epochs, max_norm=self.max_norm,
                     tol=self.tol, l2=self.l2, sample_weight=sample_weight,
                     fit_intercept=bool(self.fit_intercept),
                     workers=check_workers(self.n_jobs, name="n_jobs"),
                     optimizer=self.optimizer, batch_size=self.batch_size,
                     shuffle=self.shuffle, random_state=self.random_state)
        if self.tol is not None and result.status == "max_epochs":
            why = (f"the gradient norm is {result.grad_norm:.3g} > tol={self.tol:g}"
                   if self.batch_size is None or self.batch_size >= X.shape[0] else
                   f"the epoch's mean loss still improved by more than tol={self.tol:g}")
            warnings.warn(
                f"{type(self).__name__} did not converge in {result.n_epochs} epochs: {why}. "
                "Increase epochs or lr, or scale the features (e.g. StandardScaler in a "
                "Pipeline).", ConvergenceWarning, stacklevel=3)
        self.n_iter_ = result.n_epochs
        self.loss_history_ = result.loss_history
        return result

    def _dask_X(self, X: Any, reset: bool) -> Any:
        """A dask X checked by ``fastgrad._dask`` (not converted to NumPy, so it never
        travels to the client); records or checks ``n_features_in_``."""
        from ._dask import as_dask_matrix

        X = as_dask_matrix(X)
        if reset:
            self.n_features_in_ = X.shape[1]
            if hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
        elif X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features, but {type(self).__name__} is "
                             f"expecting {self.n_features_in_} features as input.")
        return X

    def _linear_output(self, X: ArrayLike) -> Any:
        """X @ coef_.T + intercept_ in X's precision: shape (n,) for one output row of
        coef_, (n, k) for k rows; a lazy dask array for a dask X."""
        check_is_fitted(self)
        if is_dask_collection(X):
            from ._dask import linear_output

            X = self._dask_X(X, reset=False)
            return linear_output(X, np.asarray(self.coef_), np.ravel(self.intercept_))
        X = _validate_data(self, X, dtype=_DTYPES, reset=False)
        coef = np.asarray(self.coef_)
        if coef.ndim == 2 and coef.shape[0] > 1:
            return X @ coef.T.astype(X.dtype, copy=False) + np.asarray(
                self.intercept_).astype(X.dtype, copy=False)
        w = np.ravel(coef).astype(X.dtype, copy=False)
        b = X.dtype.type(np.ravel(self.intercept_)[0])
        return X @ w + b


def _dask_class_targets(y: Any, X: Any) -> tuple[np.ndarray, Any, str]:
    """(classes, y as class indices with X's row chunks, "binary", "multiclass" or what
    else y is) for a dask X; only the sorted classes come to the client."""
    if not is_dask_collection(y):
        y = np.asarray(y)
        check_classification_targets(y)
        classes, index = np.unique(y, return_inverse=True)
        return classes, index, type_of_target(y, input_name="y")
    import dask.array as da

    from ._dask import as_row_vector

    y = as_row_vector(y, "y", X)
    classes = np.unique(da.unique(y).compute())
    index = y.map_blocks(lambda blk: np.searchsorted(classes, blk), dtype=np.intp)
    if classes.dtype.kind == "f" and not np.all(classes == np.floor(classes)):
        return classes, index, "continuous"
    return classes, index, "binary" if classes.size <= 2 else "multiclass"


#: The parameters GDRegressor and GDClassifier share, in their docstrings.
_SHARED_PARAMS = """    n_jobs : int, optional
        Threads of each pass over X (the ``workers`` of the fit function): None lets
        fastgrad choose (see its "Threads" notes), an int >= 1 is used as given, -1 uses
        all CPUs.  The fit is bitwise the same whatever the number.
    optimizer : str or optimizer object, default="gd"
        The update rule: ``"gd"``, ``"momentum"``, ``"nesterov"``, ``"adagrad"``,
        ``"rmsprop"``, ``"adam"`` or an object of :mod:`fastgrad.optimizers`
        (PyTorch's rules).
    batch_size : int or None, default=None
        None: full-batch steps.  An int: each epoch runs mini-batches of that many rows
        (then ``tol`` stops when the epoch's mean loss has not improved by more than tol
        for 5 epochs).
    shuffle : bool, default=True
        With mini-batches, visit the rows in a new random order each epoch.
    random_state : None, int or numpy.random.Generator, default=None
        The source of the shuffled orders (an int gives reproducible fits).
"""


class GDRegressor(RegressorMixin, _GDBase):
    """Least-squares linear regression fitted by compiled batch gradient descent.

    A scikit-learn estimator over :func:`fastgrad.fit_linear_regression`: it minimises
    ``sum_i s_i (x_i . w + b - y_i)**2 / sum_i s_i + l2 * ||w||**2`` (``s`` the sample
    weights, 1 by default) by gradient descent (full batch by default, or mini-batches;
    plain steps or another optimizer), the whole loop in one compiled call.

    Parameters
    ----------
    lr : float, default=0.01
        Learning rate, > 0.  Gradient descent on the mean squared error is stable for
        ``lr < 1 / lambda_max(X'X / n)`` (with a column of ones when fitting the
        intercept); scale the features if it diverges.
    epochs : int, default=1000
        Maximum number of epochs (passes over the data).
    max_norm : float, optional
        Clip the global L2 norm of the gradient to this value before each update.
    tol : float or None, default=1e-4
        Stop when the (unclipped) gradient norm falls below tol.  None runs all epochs.
        A ``ConvergenceWarning`` is issued when tol is set and not reached.
    l2 : float, default=0.0
        L2 penalty ``l2 * ||w||**2`` on the weights (the intercept is not penalised).
        ``Ridge(alpha)`` corresponds to ``l2 = alpha / n_samples``.
    fit_intercept : bool, default=True
        Fit ``intercept_``; when False it stays 0.
{shared}
    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
        Fitted weights, in X's precision (float32 or float64).
    intercept_ : float
        Fitted intercept.
    n_iter_ : int
        Number of epochs made (of updates, with full batches).
    loss_history_ : ndarray of shape ``(n_iter_,)``
        The loss before each update (with mini-batches, each epoch's mean batch loss).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape ``(n_features_in_,)``
        Column names, when X had string column names (e.g. a pandas DataFrame).

    See Also
    --------
    fastgrad.fit_linear_regression : the function this estimator calls.
    GDClassifier : logistic regression, the same way.

    Examples
    --------
    >>> import numpy as np
    >>> from fastgrad.sklearn import GDRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 3)); y = X @ [1.0, -2.0, 0.5] + 0.3
    >>> reg = GDRegressor(lr=0.1, epochs=500, tol=1e-8).fit(X, y)
    >>> np.round(reg.coef_, 4).tolist(), round(reg.intercept_, 4)
    ([1.0, -2.0, 0.5], 0.3)
    >>> round(reg.score(X, y), 6)
    1.0
    """

    def __init__(self, *, lr: float = 0.01, epochs: int = 1000,
                 max_norm: float | None = None, tol: float | None = 1e-4,
                 l2: float = 0.0, fit_intercept: bool = True, n_jobs: int | None = None,
                 optimizer: Any = "gd", batch_size: int | None = None, shuffle: bool = True,
                 random_state: Any = None) -> None:
        self.lr = lr
        self.epochs = epochs
        self.max_norm = max_norm
        self.tol = tol
        self.l2 = l2
        self.fit_intercept = fit_intercept
        self.n_jobs = n_jobs
        self.optimizer = optimizer
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.random_state = random_state

    def fit(self, X: ArrayLike, y: ArrayLike,
            sample_weight: ArrayLike | None = None) -> GDRegressor:
        """Fit the weights by gradient descent.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)
            Training data; float32 and float64 are fitted in their own precision.
        y : array_like of shape (n_samples,)
            Targets.
        sample_weight : array_like of shape (n_samples,), optional
            Non-negative weights of the samples.

        Returns
        -------
        self : GDRegressor
            The fitted estimator.

        Raises
        ------
        ValueError
            For empty, non-finite or inconsistent input, or bad parameters.

        Examples
        --------
        >>> from fastgrad.sklearn import GDRegressor
        >>> GDRegressor(lr=0.1, tol=None).fit([[0.0], [1.0]], [1.0, 3.0]).n_features_in_
        1
        """
        if is_dask_collection(X):
            X = self._dask_X(X, reset=True)
        else:
            X, y = _validate_data(self, X, y, dtype=_DTYPES, y_numeric=True)
        result = self._fit_result(X, y, sample_weight, "mse")
        self.coef_ = result.w
        self.intercept_ = float(result.b)
        return self

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Predicted targets ``X @ coef_ + intercept_``.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)

        Examples
        --------
        >>> from fastgrad.sklearn import GDRegressor
        >>> reg = GDRegressor(lr=0.1, epochs=5000, tol=1e-10).fit([[0.0], [1.0]], [1.0, 3.0])
        >>> [round(float(v), 4) for v in reg.predict([[2.0]])]
        [5.0]
        """
        return self._linear_output(X)


class GDClassifier(ClassifierMixin, _GDBase):
    """Logistic regression (binary or multinomial) fitted by compiled batch gradient descent.

    A scikit-learn estimator over :func:`fastgrad.fit_logistic_regression` and
    :func:`fastgrad.fit_softmax_regression`: the classes found in ``y`` (sorted, as
    ``classes_``) are mapped to 0..k-1.  With two classes the weighted mean
    cross-entropy of ``sigmoid(x . w + b)`` plus ``l2 * ||w||**2`` is minimised (the
    logistic model); with three or more, that of ``softmax(x @ W + b)`` plus
    ``l2 * ||W||_F**2`` (the multinomial model).  Either way by gradient descent
    (full batch by default), the whole loop in one compiled call.

    Parameters
    ----------
    lr : float, default=0.1
        Learning rate, > 0.  Ten times GDRegressor's default because the logistic
        loss curves at most an eighth as much as the squared error (second derivatives
        1/4 and 2): gradient descent is stable for ``lr < 8 / lambda_max(X'X / n)``.
    epochs : int, default=1000
        Maximum number of epochs (passes over the data).
    max_norm : float, optional
        Clip the global L2 norm of the gradient to this value before each update.
    tol : float or None, default=1e-4
        Stop when the (unclipped) gradient norm falls below tol.  None runs all epochs.
        A ``ConvergenceWarning`` is issued when tol is set and not reached (always the
        case on separable data, where the weights grow without bound).
    l2 : float, default=0.0
        L2 penalty ``l2 * ||w||**2`` on the weights (the intercept is not penalised).
        ``LogisticRegression(C=C)`` corresponds to ``l2 = 1 / (2 * C * n_samples)``
        (binary and multinomial).
    fit_intercept : bool, default=True
        Fit ``intercept_``; when False it stays 0.
{shared}
    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels; with two classes ``classes_[1]`` is the positive class.
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        Fitted weights, in X's precision (float32 or float64): one row for two classes,
        one row per class for three or more.
    intercept_ : ndarray of shape (1,) or (n_classes,)
        Fitted intercepts.
    n_iter_ : int
        Number of epochs made (of updates, with full batches).
    loss_history_ : ndarray of shape ``(n_iter_,)``
        The loss before each update (with mini-batches, each epoch's mean batch loss).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape ``(n_features_in_,)``
        Column names, when X had string column names (e.g. a pandas DataFrame).

    See Also
    --------
    fastgrad.fit_logistic_regression : the function this estimator calls for two classes.
    fastgrad.fit_softmax_regression : the function it calls for three or more.
    GDRegressor : linear regression, the same way.

    Examples
    --------
    >>> import numpy as np
    >>> from fastgrad.sklearn import GDClassifier
    >>> X = np.array([[-2.0], [-1.0], [1.0], [2.0]])
    >>> clf = GDClassifier(lr=0.5, epochs=200, tol=None).fit(X, ["no", "no", "yes", "yes"])
    >>> clf.classes_.tolist(), clf.predict([[-3.0], [3.0]]).tolist()
    (['no', 'yes'], ['no', 'yes'])
    >>> bool(clf.predict_proba([[3.0]])[0, 1] > 0.99)
    True

    Three classes use the softmax model, with one column of probabilities per class:

    >>> X3 = np.array([[-3.0], [-2.0], [0.0], [0.5], [2.0], [3.0]])
    >>> clf3 = GDClassifier(lr=0.5, epochs=2000, tol=None).fit(X3, ["a", "a", "b", "b", "c", "c"])
    >>> clf3.coef_.shape, clf3.predict([[-4.0], [0.2], [4.0]]).tolist()
    ((3, 1), ['a', 'b', 'c'])
    >>> clf3.predict_proba([[0.2]]).shape
    (1, 3)
    """

    def __init__(self, *, lr: float = 0.1, epochs: int = 1000,
                 max_norm: float | None = None, tol: float | None = 1e-4,
                 l2: float = 0.0, fit_intercept: bool = True, n_jobs: int | None = None,
                 optimizer: Any = "gd", batch_size: int | None = None, shuffle: bool = True,
                 random_state: Any = None) -> None:
        self.lr = lr
        self.epochs = epochs
        self.max_norm = max_norm
        self.tol = tol
        self.l2 = l2
        self.fit_intercept = fit_intercept
        self.n_jobs = n_jobs
        self.optimizer = optimizer
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.random_state = random_state

    def fit(self, X: ArrayLike, y: ArrayLike,
            sample_weight: ArrayLike | None = None) -> GDClassifier:
        """Fit the weights by gradient descent.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)
            Training data; float32 and float64 are fitted in their own precision.
        y : array_like of shape (n_samples,)
            Labels of two or more classes (any labels ``np.unique`` can sort).
        sample_weight : array_like of shape (n_samples,), optional
            Non-negative weights of the samples.

        Returns
        -------
        self : GDClassifier
            The fitted estimator.

        Raises
        ------
        ValueError
            When y holds fewer than two classes or is continuous or multi-output, for
            empty, non-finite or inconsistent input, or bad parameters.

        Examples
        --------
        >>> from fastgrad.sklearn import GDClassifier
        >>> GDClassifier(tol=None).fit([[0.0], [1.0]], [3, 7]).classes_.tolist()
        [3, 7]
        """
        if is_dask_collection(X):
            X = self._dask_X(X, reset=True)
            classes, index, y_type = _dask_class_targets(y, X)
        else:
            X, y = _validate_data(self, X, y, dtype=_DTYPES)
            check_classification_targets(y)
            classes, index = np.unique(y, return_inverse=True)
            y_type = type_of_target(y, input_name="y")
        if y_type not in ("binary", "multiclass"):
            raise ValueError(f"{type(self).__name__} needs one label per sample; the type of "
                             f"the target is {y_type}")
        if classes.size < 2:
            raise ValueError(f"{type(self).__name__} needs samples of 2 classes, but y holds "
                             f"only 1 class: {classes.tolist()[0]!r}")
        self.classes_ = classes
        if classes.size == 2:
            result = self._fit_result(X, index.astype(X.dtype), sample_weight, "logistic")
            self.coef_ = result.w.reshape(1, -1)
            self.intercept_ = np.array([result.b], dtype=result.w.dtype)
        else:
            result = self._fit_result(X, index.astype(np.int64), sample_weight, "softmax")
            self.coef_ = np.ascontiguousarray(result.w.T)
            self.intercept_ = np.asarray(result.b, dtype=result.w.dtype)
        return self

    def decision_function(self, X: ArrayLike) -> np.ndarray:
        """``X @ coef_.T + intercept_``: the log-odds of the positive class ``classes_[1]``
        for two classes, the class scores for more.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_classes)
            Two classes: positive values predict ``classes_[1]``.  More: the largest
            score of a row predicts its class.

        Examples
        --------
        >>> from fastgrad.sklearn import GDClassifier
        >>> clf = GDClassifier(lr=0.5, tol=None).fit([[-1.0], [1.0]], [0, 1])
        >>> bool(clf.decision_function([[2.0]])[0] > 0)
        True
        """
        return self._linear_output(X)

    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """Probabilities of the classes, one column per class in ``classes_`` order.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes), float64
            Rows sum to 1.  Two classes: column 1 is ``sigmoid(decision_function(X))``;
            more: ``softmax(decision_function(X))``, computed with the row maximum
            subtracted.

        Examples
        --------
        >>> from fastgrad.sklearn import GDClassifier
        >>> clf = GDClassifier(lr=0.5, tol=None).fit([[-1.0], [1.0]], [0, 1])
        >>> clf.predict_proba([[0.0]]).round(6).tolist()
        [[0.5, 0.5]]
        """
        # in float64 whatever X's dtype: in float32 a probability within 6e-8 of 1 would
        # round to 1, and log(predict_proba) would no longer equal predict_log_proba
        d = self.decision_function(X).astype(np.float64)
        if d.ndim == 2:
            e = np.exp(d - d.max(axis=1, keepdims=True))
            return e / e.sum(axis=1, keepdims=True)
        # sigmoid(d) and sigmoid(-d) each computed without overflow: exp of a non-positive number
        e = np.exp(-np.abs(d))
        big = 1.0 / (1.0 + e)      # probability of the class d points to
        small = e / (1.0 + e)      # and of the other one
        p1 = np.where(d >= 0, big, small)
        p0 = np.where(d >= 0, small, big)
        return np.stack([p0, p1], axis=1)

    def predict_log_proba(self, X: ArrayLike) -> np.ndarray:
        """Logarithm of :meth:`predict_proba`, computed without underflow.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)

        Examples
        --------
        >>> from fastgrad.sklearn import GDClassifier
        >>> clf = GDClassifier(lr=0.5, tol=None).fit([[-1.0], [1.0]], [0, 1])
        >>> clf.predict_log_proba([[0.0]]).round(6).tolist()
        [[-0.693147, -0.693147]]
        """
        d = self.decision_function(X).astype(np.float64)   # as in predict_proba
        if d.ndim == 2:
            z = d - d.max(axis=1, keepdims=True)
            return z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
        # log sigmoid(d) = -log(1 + exp(-d)) = -logaddexp(0, -d)
        return np.stack([-np.logaddexp(0, d), -np.logaddexp(0, -d)], axis=1)

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Predicted class labels: the class of the largest score (for two classes,
        ``classes_[1]`` where the decision function is > 0).

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
            Labels from ``classes_``.

        Examples
        --------
        >>> from fastgrad.sklearn import GDClassifier
        >>> clf = GDClassifier(lr=0.5, tol=None).fit([[-1.0], [1.0]], ["a", "b"])
        >>> clf.predict([[-5.0], [5.0]]).tolist()
        ['a', 'b']
        """
        d: Any = self.decision_function(X)
        classes = self.classes_
        if is_dask_collection(d):
            if d.ndim == 2:
                return d.map_blocks(lambda blk: classes[np.argmax(blk, axis=1)], drop_axis=1,
                                    dtype=classes.dtype)
            return d.map_blocks(lambda blk: classes[(blk > 0).astype(np.intp)],
                                dtype=classes.dtype)
        if d.ndim == 2:
            return classes[np.argmax(d, axis=1)]
        return classes[(d > 0).astype(np.intp)]


for _estimator in (GDRegressor, GDClassifier):   # None under -OO
    _estimator.__doc__ = (_estimator.__doc__ or "").replace("{shared}", _SHARED_PARAMS)
