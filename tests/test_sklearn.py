"""Tests of fastgrad.sklearn: GDRegressor and GDClassifier as scikit-learn estimators.

They must pass scikit-learn's own ``check_estimator``, give exactly what the functional API
gives, agree with scikit-learn's closed-form / lbfgs fits when converged, and work inside
Pipeline, GridSearchCV and OneVsRestClassifier.  Skipped when scikit-learn is not installed.
"""
import inspect
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

pytest.importorskip("sklearn")

from sklearn.base import clone
from sklearn.datasets import make_blobs, make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import check_estimator

import fastgrad
from fastgrad.sklearn import GDClassifier, GDRegressor


def _regression(n=200, d=4, seed=0):
    X, y = make_regression(n_samples=n, n_features=d, noise=5.0, bias=3.0, random_state=seed)
    return StandardScaler().fit_transform(X), y


def _classification(n=500, d=5, seed=0):
    # not separable (flip_y): the unpenalised logistic fit has a finite minimiser
    return make_classification(n_samples=n, n_features=d, n_informative=3, flip_y=0.1,
                               class_sep=0.8, random_state=seed)


def _unpenalised_logistic():
    return LogisticRegression(C=np.inf, tol=1e-10, max_iter=10_000)


# --------------------------------------------------------------------------- check_estimator
def _core_names_all_zero_weights():
    """Whether fastgrad's own error for all-zero sample weights says 'weight' and 'zero'
    (what check_all_zero_sample_weights_error looks for)."""
    try:
        fastgrad.fit_linear_regression([[1.0], [2.0]], [1.0, 2.0], sample_weight=[0.0, 0.0])
    except ValueError as exc:
        return re.search(r"weight.*zero|zero.*weight", str(exc)) is not None
    return False


# The one check the estimators cannot pass by themselves: the message comes from the core
# (fastgrad._validation.as_sample_weight).  Once the core names zero weights this dict is
# empty and the check is required to pass like every other.
EXPECTED_FAILED = ({} if _core_names_all_zero_weights() else
                   {"check_all_zero_sample_weights_error":
                    "fastgrad's error for all-zero sample_weight does not say 'zero'"})


@pytest.mark.parametrize("estimator", [
    GDRegressor(), GDClassifier(),
    GDRegressor(optimizer="nesterov", batch_size=8, random_state=0),
    GDClassifier(optimizer="adam", batch_size=8, random_state=0, l2=1e-3),
], ids=lambda e: f"{type(e).__name__}-{e.optimizer}-{e.batch_size}")
def test_check_estimator(estimator):
    expected_failed = dict(EXPECTED_FAILED)
    if estimator.batch_size is not None:
        # as for SGDRegressor: a weight of 2 is not a repeated row when the rows are cut
        # into mini-batches (the batches, and so the steps, differ)
        expected_failed["check_sample_weight_equivalence_on_dense_data"] = (
            "mini-batches: sample weights are not equivalent to repeated rows")
    with warnings.catch_warnings():
        # the checks fit unscaled and tiny data sets: non-convergence and, for data with a
        # mean of 100, divergence at the default lr are expected and reported as warnings
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        if "expected_failed_checks" in inspect.signature(check_estimator).parameters:
            results = check_estimator(estimator, expected_failed_checks=expected_failed)
            passed = [r["check_name"] for r in results if r["status"] == "passed"]
        else:  # scikit-learn < 1.6
            passed = []
            for est, check in check_estimator(estimator, generate_only=True):
                name = getattr(check, "func", check).__name__
                if name not in expected_failed:
                    check(est)
                    passed.append(name)
    assert len(passed) > 40


# --------------------------------------------------------------------------- same as the functional API
class TestSameAsFunctionalAPI:
    def test_regressor(self):
        X, y = _regression()
        sw = np.random.default_rng(1).uniform(0.5, 2.0, size=len(y))
        kw = {"lr": 0.05, "epochs": 300, "max_norm": 50.0, "tol": None, "l2": 0.01}
        reg = GDRegressor(**kw).fit(X, y, sample_weight=sw)
        fit = fastgrad.fit_linear_regression(X, y, sample_weight=sw, **kw)
        assert_array_equal(reg.coef_, fit.w)
        assert reg.intercept_ == fit.b
        assert reg.n_iter_ == fit.n_epochs == 300
        assert_array_equal(reg.loss_history_, fit.loss_history)
        assert_array_equal(reg.predict(X), X @ fit.w + fit.b)

    @pytest.mark.parametrize("shuffle", [True, False])
    def test_optimizer_and_mini_batches_are_passed_on(self, shuffle):
        X, y = _regression()
        kw = {"lr": 0.01, "epochs": 20, "tol": None, "optimizer": "adam", "batch_size": 16,
              "shuffle": shuffle, "random_state": 3}
        reg = GDRegressor(**kw).fit(X, y)
        fit = fastgrad.fit_linear_regression(X, y, **kw)
        assert_array_equal(reg.coef_, fit.w)
        assert_array_equal(reg.loss_history_, fit.loss_history)
        X, y01 = _classification()
        clf = GDClassifier(**kw).fit(X, y01)
        fit = fastgrad.fit_logistic_regression(X, y01.astype(float), **kw)
        assert_array_equal(clf.coef_, fit.w[None, :])

    def test_bad_optimizer_is_named(self):
        X, y = _regression()
        with pytest.raises(ValueError, match="`optimizer`"):
            GDRegressor(optimizer="lbfgs").fit(X, y)
        with pytest.raises(ValueError, match="`batch_size`"):
            GDClassifier(batch_size=0).fit(X, y > 0)

    @pytest.mark.parametrize("labels", [(0, 1), (-1, 1), ("cat", "dog"), (False, True)])
    def test_classifier_maps_two_classes_to_0_1(self, labels):
        X, y01 = _classification()
        y = np.array(labels, dtype=object if isinstance(labels[0], str) else None)[y01]
        kw = {"lr": 0.2, "epochs": 200, "tol": None, "fit_intercept": True}
        clf = GDClassifier(**kw).fit(X, y)
        fit = fastgrad.fit_logistic_regression(X, y01.astype(float), **kw)
        assert_array_equal(clf.classes_, np.unique(y))
        assert_array_equal(clf.coef_, fit.w[None, :])
        assert_array_equal(clf.intercept_, [fit.b])
        z = X @ fit.w + fit.b
        assert_allclose(clf.decision_function(X), z, rtol=1e-12)
        assert_allclose(clf.predict_proba(X)[:, 1], 1 / (1 + np.exp(-z)), rtol=1e-12)
        assert_array_equal(clf.predict(X), np.asarray(labels)[(z > 0).astype(int)])

    def test_fit_intercept_false(self):
        X, y = _regression()
        reg = GDRegressor(fit_intercept=False, tol=None).fit(X, y)
        assert reg.intercept_ == 0.0
        assert_array_equal(reg.coef_, fastgrad.fit_linear_regression(X, y, fit_intercept=False).w)

    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    def test_fits_in_the_precision_of_X(self, dtype):
        X, y = _regression()
        reg = GDRegressor(tol=None).fit(X.astype(dtype), y)
        assert reg.coef_.dtype == dtype
        assert reg.predict(X.astype(dtype)).dtype == dtype


# --------------------------------------------------------------------------- converged fits agree with scikit-learn
class TestAgreesWithScikitLearn:
    def test_regressor_recovers_linear_regression(self):
        X, y = _regression()
        reg = GDRegressor(lr=0.1, epochs=5000, tol=1e-10).fit(X, y)
        ref = LinearRegression().fit(X, y)
        assert reg.n_iter_ < 5000
        assert_allclose(reg.coef_, ref.coef_, rtol=1e-8)
        assert_allclose(reg.intercept_, ref.intercept_, rtol=1e-8)
        assert_allclose(reg.score(X, y), ref.score(X, y), rtol=1e-12)

    def test_regressor_l2_is_ridge_alpha_over_n(self):
        X, y = _regression()
        alpha = 5.0
        reg = GDRegressor(lr=0.1, epochs=5000, tol=1e-10, l2=alpha / len(y)).fit(X, y)
        ref = Ridge(alpha=alpha).fit(X, y)
        assert_allclose(reg.coef_, ref.coef_, rtol=1e-8)
        assert_allclose(reg.intercept_, ref.intercept_, rtol=1e-8)

    @pytest.mark.parametrize("seed", [0, 1, 2])
    def test_classifier_defaults_match_logistic_regression_accuracy(self, seed):
        X, y = _classification(seed=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # seed 0 needs > 1000 epochs
            clf = GDClassifier().fit(X, y)
        ref = _unpenalised_logistic().fit(X, y)
        assert abs(clf.score(X, y) - ref.score(X, y)) <= 0.01

    def test_classifier_converged_recovers_logistic_regression(self):
        X, y = _classification()
        clf = GDClassifier(lr=1.0, epochs=5000, tol=1e-10).fit(X, y)
        ref = _unpenalised_logistic().fit(X, y)
        assert clf.n_iter_ < 5000
        assert_allclose(clf.coef_, ref.coef_, rtol=1e-5, atol=1e-6)
        assert_allclose(clf.intercept_, ref.intercept_, rtol=1e-5, atol=1e-6)
        assert_allclose(clf.predict_proba(X), ref.predict_proba(X), atol=1e-6)

    def test_classifier_l2_is_one_over_2_c_n(self):
        X, y = _classification()
        C = 0.05
        clf = GDClassifier(lr=1.0, epochs=5000, tol=1e-10, l2=1 / (2 * C * len(y))).fit(X, y)
        ref = LogisticRegression(C=C, tol=1e-10, max_iter=10_000).fit(X, y)
        assert_allclose(clf.coef_, ref.coef_, rtol=1e-5, atol=1e-6)
        assert_allclose(clf.intercept_, ref.intercept_, rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------- scikit-learn tooling
class TestScikitLearnTooling:
    def test_pipeline_with_scaler(self):
        X, y = make_regression(n_samples=200, n_features=3, noise=1.0, random_state=0)
        X = X * [1.0, 100.0, 0.01] + 50.0         # badly scaled: the scaler makes GD work
        pipe = make_pipeline(StandardScaler(), GDRegressor(lr=0.1, tol=1e-8)).fit(X, y)
        assert pipe.score(X, y) > 0.99

    def test_grid_search(self):
        X, y = _classification()
        grid = GridSearchCV(GDClassifier(tol=None), {"lr": [1e-4, 0.5], "l2": [0.0, 0.01]}, cv=3)
        grid.fit(X, y)
        assert grid.best_params_["lr"] == 0.5     # 1e-4 barely moves from w = 0
        assert set(grid.cv_results_["params"][0]) == {"lr", "l2"}
        assert grid.best_estimator_.n_features_in_ == X.shape[1]

    def test_cross_val_score(self):
        X, y = _regression()
        assert np.all(cross_val_score(GDRegressor(lr=0.1), X, y, cv=4) > 0.9)

    def test_get_set_params_and_clone(self):
        reg = GDRegressor(lr=0.2, max_norm=1.0)
        assert reg.get_params() == {"lr": 0.2, "epochs": 1000, "max_norm": 1.0, "tol": 1e-4,
                                    "l2": 0.0, "fit_intercept": True, "n_jobs": None,
                                    "optimizer": "gd", "batch_size": None, "shuffle": True,
                                    "random_state": None}
        assert clone(reg.set_params(epochs=7)).get_params()["epochs"] == 7
        assert GDClassifier().get_params()["lr"] == 0.1

    def test_one_vs_rest_for_more_classes(self):
        X, y = make_classification(n_samples=300, n_features=4, n_informative=3, n_redundant=0,
                                   n_classes=3, random_state=0)
        ovr = OneVsRestClassifier(GDClassifier(tol=None)).fit(X, y)
        assert ovr.score(X, y) > 0.7


# --------------------------------------------------------------------------- more than two classes
class TestMulticlass:
    @pytest.mark.parametrize("n_classes", [3, 10])
    def test_classifier_is_the_softmax_fit_of_the_class_indices(self, n_classes):
        X, idx = make_blobs(n_samples=400, n_features=12, centers=n_classes, random_state=0)
        X = StandardScaler().fit_transform(X)
        labels = np.array([f"class {i}" for i in range(n_classes)], dtype=object)
        perm = np.random.default_rng(0).permutation(n_classes)   # labels not in index order
        y = labels[perm][idx]
        kw = {"lr": 0.3, "epochs": 300, "tol": None, "l2": 1e-3}
        clf = GDClassifier(**kw).fit(X, y)
        assert_array_equal(clf.classes_, np.sort(labels))
        fit = fastgrad.fit_softmax_regression(X, np.searchsorted(clf.classes_, y), **kw)
        assert clf.coef_.shape == (n_classes, 12) and clf.intercept_.shape == (n_classes,)
        assert_array_equal(clf.coef_, fit.w.T)
        assert_array_equal(clf.intercept_, fit.b)
        assert_array_equal(clf.loss_history_, fit.loss_history)
        scores = X @ fit.w + fit.b
        assert_array_equal(clf.predict(X), clf.classes_[np.argmax(scores, axis=1)])
        P = clf.predict_proba(X)           # columns in classes_ order
        assert_allclose(P, np.exp(scores - scores.max(1, keepdims=True))
                        / np.exp(scores - scores.max(1, keepdims=True)).sum(1, keepdims=True),
                        rtol=1e-12)
        assert_allclose(clf.predict_log_proba(X), np.log(P), rtol=1e-10, atol=1e-12)
        assert clf.score(X, y) > 0.9

    def test_matches_sklearn_multinomial_logistic_regression_on_iris(self):
        from sklearn.datasets import load_iris
        X, y = load_iris(return_X_y=True)
        X = StandardScaler().fit_transform(X)
        l2 = 1e-3
        clf = GDClassifier(lr=1.0, epochs=100_000, tol=1e-8, l2=l2).fit(X, y)
        ref = LogisticRegression(C=1 / (2 * len(y) * l2), tol=1e-14, max_iter=10_000).fit(X, y)
        assert_allclose(clf.predict_proba(X), ref.predict_proba(X), atol=1e-6)
        assert np.sum(clf.predict(X) != ref.predict(X)) <= 1


# --------------------------------------------------------------------------- behaviour and errors
class TestBehaviour:
    def test_one_class_is_a_clear_error(self):
        with pytest.raises(ValueError, match="only 1 class: 'a'"):
            GDClassifier().fit(np.ones((3, 2)), ["a", "a", "a"])

    def test_continuous_target_is_rejected_by_the_classifier(self):
        with pytest.raises(ValueError, match="Unknown label type"):
            GDClassifier().fit(np.ones((3, 2)), [0.1, 0.2, 0.7])

    def test_bad_parameter_names_the_argument(self):
        X, y = _regression()
        with pytest.raises(ValueError, match="`lr` must be > 0"):
            GDRegressor(lr=-1.0).fit(X, y)

    def test_predict_before_fit(self):
        with pytest.raises(NotFittedError):
            GDClassifier().predict_proba(np.ones((2, 2)))

    def test_convergence_warning_only_when_tol_is_set(self):
        X, y = _regression()
        with pytest.warns(ConvergenceWarning, match="did not converge in 5 epochs"):
            GDRegressor(epochs=5).fit(X, y)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            GDRegressor(epochs=5, tol=None).fit(X, y)

    def test_converged_fit_stops_early(self):
        X, y = _regression()
        reg = GDRegressor(lr=0.1, epochs=10_000, tol=1e-6).fit(X, y)
        assert 0 < reg.n_iter_ < 10_000
        assert reg.loss_history_.shape == (reg.n_iter_,)
        assert np.all(np.diff(reg.loss_history_) <= 0)

    def test_log_proba_is_log_of_proba(self):
        X, y = _classification()
        clf = GDClassifier(tol=None).fit(X, y)
        assert_allclose(np.exp(clf.predict_log_proba(X)), clf.predict_proba(X), rtol=1e-12)
        assert_allclose(clf.predict_proba(X).sum(axis=1), 1.0, rtol=1e-15)

    def test_importing_fastgrad_does_not_import_sklearn(self):
        code = "import sys, fastgrad; assert 'sklearn' not in sys.modules, 'sklearn imported'"
        subprocess.run([sys.executable, "-c", code], check=True)
