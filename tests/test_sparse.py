"""Sparse Jacobians and Hessians: colourings, recovery, evaluation modes, call counts,
sparsity detection, against closed forms, dense results and scipy's approx_derivative."""
import tracemalloc
import weakref

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from scipy.optimize import rosen, rosen_der, rosen_hess
from scipy.optimize._numdiff import approx_derivative

from fastgrad import (
    Coloring,
    DerivativeResult,
    _diff,
    coloring,
    detect_sparsity,
    hessian,
    jacobian,
)


# ============================================================ objectives with closed forms
def rosen_hess_banded(x):
    """Chained Rosenbrock Hessian as a sparse matrix (closed form, tridiagonal)."""
    n = x.shape[0]
    d = np.zeros(n)
    d[:-1] += 1200 * x[:-1] ** 2 - 400 * x[1:] + 2
    d[1:] += 200
    off = -400 * x[:-1]
    return sp.diags_array([off, d, off], offsets=[-1, 0, 1]).tocsr()


A_BAND = np.array([1.0, 2.0, -1.0])


def band(x):
    """sum_i cos(x_i + 2 x_{i+1} - x_{i+2}) + |x|^2 / 2: half-bandwidth 2."""
    s = x[:-2] + 2 * x[1:-1] - x[2:]
    return float(np.sum(np.cos(s)) + 0.5 * x @ x)


def band_grad(x):
    s = x[:-2] + 2 * x[1:-1] - x[2:]
    g = x.copy()
    for k in range(3):
        g[k:x.shape[0] - 2 + k] -= np.sin(s) * A_BAND[k]
    return g


def band_hess(x):
    n = x.shape[0]
    s = x[:-2] + 2 * x[1:-1] - x[2:]
    c = -np.cos(s)
    rows, cols, vals = [np.arange(n)], [np.arange(n)], [np.ones(n)]
    for a in range(3):
        for b in range(3):
            rows.append(np.arange(n - 2) + a)
            cols.append(np.arange(n - 2) + b)
            vals.append(c * A_BAND[a] * A_BAND[b])
    return sp.coo_array((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                        shape=(n, n)).tocsr()


def arrow(x):
    """sum_{i >= 1} (x_0 x_i)^2: an arrowhead Hessian."""
    return float(np.sum((x[0] * x[1:]) ** 2))


def arrow_grad(x):
    g = 2 * x[0] ** 2 * x
    g[0] = 2 * x[0] * np.sum(x[1:] ** 2)
    return g


def arrow_hess(x):
    n = x.shape[0]
    d = np.full(n, 2 * x[0] ** 2)
    d[0] = 2 * np.sum(x[1:] ** 2)
    r = np.arange(1, n)
    v = 4 * x[0] * x[1:]
    return sp.coo_array((np.concatenate([d, v, v]),
                         (np.concatenate([np.arange(n), np.zeros(n - 1, int), r]),
                          np.concatenate([np.arange(n), r, np.zeros(n - 1, int)]))),
                        shape=(n, n)).tocsr()


def block(x):
    """sum over blocks of 5 of log(1 + |z|^2): block-diagonal Hessian."""
    z = x.reshape(-1, 5)
    return float(np.sum(np.log1p(np.sum(z * z, axis=1))))


def block_grad(x):
    z = x.reshape(-1, 5)
    return (2 * z / (1 + np.sum(z * z, axis=1))[:, None]).reshape(-1)


def block_hess(x):
    z = x.reshape(-1, 5)
    s = 1 + np.sum(z * z, axis=1)
    blocks = [2 * np.eye(5) / si - 4 * np.outer(zi, zi) / si ** 2 for zi, si in zip(z, s)]
    return sp.block_diag(blocks, format="csr")


def tridiag_pattern(n):
    return np.eye(n, dtype=bool) | np.eye(n, k=1, dtype=bool) | np.eye(n, k=-1, dtype=bool)


def band_pattern(n, k=2):
    return sum(np.eye(n, k=j, dtype=bool) for j in range(-k, k + 1)).astype(bool)


def arrow_pattern(n):
    p = np.eye(n, dtype=bool)
    p[0] = p[:, 0] = True
    return p


def block_pattern(n):
    return sp.block_diag([np.ones((5, 5))] * (n // 5), format="csr").astype(bool)


PROBLEMS = {
    "rosen": (rosen, rosen_der, rosen_hess_banded, tridiag_pattern),
    "band": (band, band_grad, band_hess, band_pattern),
    "arrow": (arrow, arrow_grad, arrow_hess, arrow_pattern),
    "block": (block, block_grad, block_hess, block_pattern),
}


def point(n, seed=0):
    return np.random.default_rng(seed).uniform(-1.5, 1.5, n)


def on_pattern(ref, H):
    """ref's values at H's entries, in H's CSR order."""
    rows = np.repeat(np.arange(H.shape[0]), np.diff(H.indptr))
    return sp.csr_array(ref).toarray()[rows, H.indices]


def sparse_rel_err(H, ref):
    D = (sp.csr_array(H) - sp.csr_array(ref))
    return float(np.max(np.abs(D.data), initial=0.0)) / float(np.max(np.abs(ref.data)))


class Counter:
    def __init__(self, f):
        self.f, self.calls = f, 0

    def __call__(self, x, *args):
        self.calls += 1
        return self.f(x, *args)


# ============================================================ colourings
def _check_column_coloring(P, col):
    P = sp.csr_array(P).toarray().astype(int)
    for c in range(col.n_colors):
        assert P[:, col.colors == c].sum(axis=1).max(initial=0) <= 1


def _check_symmetric_coloring(col, star):
    S = col.pattern.toarray()
    colors = col.colors
    off = S.copy()
    np.fill_diagonal(off, False)
    i, j = np.nonzero(off)
    assert np.all(colors[i] != colors[j]), "not a distance-1 colouring"
    for a in range(col.n_colors):
        for b in range(a + 1, col.n_colors):
            sel = np.flatnonzero((colors == a) | (colors == b))
            sub = off[np.ix_(sel, sel)]
            ncomp, lab = sp.csgraph.connected_components(sp.csr_array(sub), directed=False)
            for c in range(ncomp):
                vs = np.flatnonzero(lab == c)
                g = sub[np.ix_(vs, vs)]
                assert g.sum() // 2 == len(vs) - 1, "a two-coloured cycle"
                if star:
                    assert np.sum(g.sum(axis=1) > 1) <= 1, "a two-coloured path on 4 vertices"


@pytest.mark.parametrize("seed", range(40))
def test_colourings_valid_on_random_patterns(seed):
    rng = np.random.default_rng(seed)
    n, m = rng.integers(1, 40, size=2)
    density = rng.uniform(0.02, 0.4)
    P = rng.random((m, n)) < density
    col = coloring(P)
    assert col.kind == "jacobian" and col.colors.shape == (n,)
    _check_column_coloring(P, col)
    Q = sp.random_array((n, n), density=density, rng=rng, format="csr").astype(bool)
    star = coloring(Q, kind="hessian")
    acyc = coloring(Q, kind="hessian", method="acyclic")
    assert (star.method, acyc.method) == ("star", "acyclic")
    _check_symmetric_coloring(star, True)
    _check_symmetric_coloring(acyc, False)


def test_coloring_known_counts_and_determinism():
    n = 30
    assert coloring(tridiag_pattern(n)).n_colors == 3
    assert coloring(tridiag_pattern(n), kind="hessian").n_colors == 3
    assert coloring(tridiag_pattern(n), kind="hessian", method="acyclic").n_colors == 2
    assert coloring(arrow_pattern(n), kind="hessian").n_colors == 2
    assert coloring(block_pattern(n), kind="hessian").n_colors == 5
    a = coloring(band_pattern(n), kind="hessian")
    b = coloring(sp.csr_matrix(band_pattern(n).astype(float)), kind="hessian")
    assert_array_equal(a.colors, b.colors)
    assert isinstance(a, Coloring) and "n_colors=" in repr(a)


def test_coloring_bad_input_named():
    good = np.eye(3, dtype=bool)
    assert coloring(good).n_colors == 1
    with pytest.raises(ValueError, match="`pattern`"):
        coloring(np.array([[0, 2], [1, 0]]))
    with pytest.raises(TypeError, match="`pattern`"):
        coloring(np.array([["a"]]))
    with pytest.raises(ValueError, match="`pattern`"):
        coloring(np.ones(3, dtype=bool))
    with pytest.raises(ValueError, match="`pattern`"):
        coloring(np.zeros((0, 3), dtype=bool))
    with pytest.raises(ValueError, match="`pattern`"):
        coloring(np.ones((2, 3), dtype=bool), kind="hessian")
    with pytest.raises(ValueError, match="`kind`"):
        coloring(good, kind="gradient")
    with pytest.raises(ValueError, match="`method`"):
        coloring(good, kind="hessian", method="greedy")
    with pytest.raises(TypeError, match="`pattern`"):
        coloring(None)


# ============================================================ Jacobians
def banded_F(v):
    left = np.concatenate([[0.0], v[:-1]])
    right = np.concatenate([v[1:], [0.0]])
    return v ** 3 - 2 * left + np.sin(right) * v


def banded_J(v):
    n = v.shape[0]
    right = np.concatenate([v[1:], [0.0]])
    d = 3 * v ** 2 + np.sin(right)
    lower = -2 * np.ones(n - 1)
    upper = np.cos(v[1:]) * v[:-1]
    return sp.diags_array([lower, d, upper], offsets=[-1, 0, 1]).tocsr()


@pytest.mark.parametrize("n", [10, 2000])
@pytest.mark.parametrize("method,scipy_method", [("central", "3-point"),
                                                  ("forward", "2-point")])
def test_sparse_jacobian_closed_form_and_scipy(n, method, scipy_method):
    x = point(n, 3)
    S = tridiag_pattern(n) if n <= 10 else sp.csr_array(banded_J(x) != 0)
    F = Counter(banded_F)
    J = jacobian(F, x, method=method, sparsity=S)
    assert isinstance(J, sp.csr_array) and J.shape == (n, n) and J.nnz == 3 * n - 2
    tol = 1e-7 if method == "central" else 1e-5
    assert sparse_rel_err(J, banded_J(x)) < tol
    G = Counter(banded_F)
    Js = approx_derivative(G, x, method=scipy_method, sparsity=S)
    assert_allclose(J.toarray(), Js.toarray(), rtol=0, atol=100 * tol)
    assert F.calls <= G.calls
    expected = 1 + (2 if method == "central" else 1) * 3
    assert F.calls == expected
    if n == 10:
        assert_allclose(J.toarray(), jacobian(banded_F, x, method=method), atol=1e-9)


def test_sparse_jacobian_coloring_reused_and_full_output():
    n = 50
    x = point(n, 4)
    col = coloring(tridiag_pattern(n))
    J1 = jacobian(banded_F, x, sparsity=col)
    J2 = jacobian(banded_F, x, sparsity=tridiag_pattern(n))
    assert_array_equal(J1.toarray(), J2.toarray())
    r = jacobian(banded_F, x, sparsity=col, full_output=True)
    assert isinstance(r, DerivativeResult)
    assert_array_equal(r.value.toarray(), J1.toarray())
    true = np.abs(r.value.data - on_pattern(banded_J(x), r.value))
    assert r.error.shape == (n, n) and np.mean(r.error.data >= true) >= 0.95
    assert r.nfev == 1 + 2 * 3 * 2


def test_sparse_jacobian_vectorized_workers_bounds():
    n = 30
    x = point(n, 5)
    S = tridiag_pattern(n)
    serial = jacobian(banded_F, x, sparsity=S)
    vec = jacobian(lambda X: np.array([banded_F(r) for r in X]), x, vectorized=True,
                   sparsity=S)
    assert_array_equal(vec.toarray(), serial.toarray())
    mapped = jacobian(banded_F, x, workers=map, sparsity=S)
    assert_array_equal(mapped.toarray(), serial.toarray())
    lb = x.copy()
    lb[::2] = x[::2]  # x sits on its lower bound at every other coordinate
    seen = []

    def F(v):
        seen.append(v.copy())
        return banded_F(v)

    Jb = jacobian(F, x, bounds=(lb, np.inf), sparsity=S)
    assert np.all(np.array(seen) >= lb)
    dense = jacobian(banded_F, x, bounds=(lb, np.inf))
    assert_allclose(Jb.toarray(), dense * S, atol=1e-6)
    assert sparse_rel_err(Jb, banded_J(x)) < 1e-5


def _F_module(v):
    return banded_F(v)


def test_sparse_jacobian_process_pool():
    n = 12
    x = point(n, 6)
    S = tridiag_pattern(n)
    assert_array_equal(jacobian(_F_module, x, workers=2, sparsity=S).toarray(),
                       jacobian(_F_module, x, sparsity=S).toarray())


def test_sparse_jacobian_bad_input_named():
    n = 6
    x = point(n)
    jacobian(banded_F, x, sparsity=tridiag_pattern(n))
    with pytest.raises(ValueError, match="`sparsity`"):
        jacobian(banded_F, x, sparsity=tridiag_pattern(n + 1))
    with pytest.raises(ValueError, match="`sparsity`"):
        jacobian(banded_F, x, sparsity=tridiag_pattern(n) * 3)
    with pytest.raises(ValueError, match="`sparsity`"):
        jacobian(banded_F, x, sparsity=np.zeros((0, 0), dtype=bool))
    with pytest.raises(ValueError, match="`sparsity`"):
        jacobian(banded_F, x, sparsity=coloring(tridiag_pattern(n), kind="hessian"))
    with pytest.raises(ValueError, match="`sparsity`"):
        jacobian(banded_F, x, sparsity=coloring(tridiag_pattern(n + 2)))
    with pytest.raises(ValueError, match="`sparsity`"):
        jacobian(lambda v: np.sin(v + 0j), x, method="complex", sparsity=tridiag_pattern(n))


# ============================================================ Hessians
@pytest.mark.parametrize("name", list(PROBLEMS))
@pytest.mark.parametrize("how", ["f", "star", "acyclic"])
def test_sparse_hessian_small_against_dense_and_closed_form(name, how):
    f, g, hess, pattern = PROBLEMS[name]
    n = 10
    x = point(n, 7)
    P = pattern(n)
    if how == "f":
        H = hessian(f, x, sparsity=P)
        dense = hessian(f, x)
        tol = 1e-4
    else:
        sparsity = P if how == "star" else coloring(P, kind="hessian", method="acyclic")
        H = hessian(f, x, grad=g, sparsity=sparsity)
        dense = hessian(f, x, grad=g)
        tol = 1e-7
    assert isinstance(H, sp.csr_array) and H.shape == (n, n)
    assert (abs(H - H.T)).nnz == 0 or np.max(np.abs((H - H.T).data)) == 0.0
    ref = hess(x)
    assert sparse_rel_err(H, ref) < tol
    assert_allclose(H.toarray(), dense * (sp.csr_array(P) + sp.csr_array(P).T
                                          + sp.eye_array(n)).toarray().astype(bool),
                    atol=tol * np.max(np.abs(ref.data)) * 2)
    if name == "rosen":
        full = rosen_hess(x)
        for k in (-1, 0, 1):
            assert_allclose(H.diagonal(k), np.diagonal(full, k), rtol=tol * 10, atol=tol)


@pytest.mark.parametrize("name", list(PROBLEMS))
@pytest.mark.parametrize("how", ["f", "star", "acyclic"])
def test_sparse_hessian_large_closed_form(name, how):
    f, g, hess, pattern = PROBLEMS[name]
    n = 5000
    x = point(n, 8)
    P = sp.csr_array(pattern(n)) if name != "block" else pattern(n)
    if name in ("rosen", "band", "arrow"):
        P = sp.csr_array(hess(x) != 0)
        P = P + sp.eye_array(n, dtype=bool)
    if how == "f":
        H = hessian(f, x, sparsity=P)
        tol = 1e-4
    else:
        sparsity = P if how == "star" else coloring(P, kind="hessian", method="acyclic")
        H = hessian(f, x, grad=g, sparsity=sparsity)
        tol = 1e-6
    assert sparse_rel_err(H, hess(x)) < tol
    assert np.max(np.abs((H - H.T).data), initial=0.0) == 0.0


def test_sparse_hessian_call_counts():
    n = 200
    x = point(n, 9)
    g = Counter(rosen_der)
    hessian(rosen, x, grad=g, sparsity=tridiag_pattern(n))
    assert g.calls <= 6
    g = Counter(rosen_der)
    hessian(rosen, x, grad=g, sparsity=coloring(tridiag_pattern(n), kind="hessian",
                                                 method="acyclic"))
    assert g.calls <= 4
    g = Counter(arrow_grad)
    hessian(arrow, x, grad=g, sparsity=arrow_pattern(n))
    assert g.calls <= 4
    for name, (f, _, _hess, pattern) in PROBLEMS.items():
        P = sp.csr_array(pattern(n))
        upper = sp.triu(P + P.T, k=1).nnz
        c = Counter(f)
        hessian(c, x, sparsity=P)
        assert c.calls <= 1 + 2 * n + 2 * upper, name


def test_sparse_hessian_never_dense():
    n = 5000   # a dense n x n float64 array would be 200 MB
    x = point(n, 10)
    P = tridiag_pattern(200)  # warm-up of imports and caches
    hessian(rosen, x[:200], sparsity=P)
    P = sp.csr_array(rosen_hess_banded(x) != 0)
    tracemalloc.start()
    try:
        hessian(rosen, x, sparsity=P)
        hessian(rosen, x, grad=rosen_der, sparsity=P)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2 ** 20


def test_sparse_hessian_full_output_bounds_error():
    n = 20
    x = point(n, 11)
    P = tridiag_pattern(n)
    ref = rosen_hess_banded(x)
    for kw in ({}, {"grad": rosen_der}):
        r = hessian(rosen, x, sparsity=P, full_output=True, **kw)
        assert isinstance(r.value, sp.csr_array)
        true = np.abs(r.value.data - on_pattern(ref, r.value))
        assert np.mean(r.error.data >= true) >= 0.95


def test_sparse_hessian_vectorized_and_workers():
    n = 12
    x = point(n, 12)
    P = tridiag_pattern(n)
    rows = lambda X: np.array([rosen(r) for r in X])  # noqa: E731
    assert_array_equal(hessian(rows, x, vectorized=True, sparsity=P).toarray(),
                       hessian(rosen, x, sparsity=P).toarray())
    grows = lambda X: np.array([rosen_der(r) for r in X])  # noqa: E731
    assert_array_equal(hessian(rosen, x, grad=grows, vectorized=True, sparsity=P).toarray(),
                       hessian(rosen, x, grad=rosen_der, sparsity=P).toarray())
    assert_array_equal(hessian(rosen, x, workers=map, sparsity=P).toarray(),
                       hessian(rosen, x, sparsity=P).toarray())
    assert_array_equal(hessian(rosen, x, workers=2, sparsity=P).toarray(),
                       hessian(rosen, x, sparsity=P).toarray())


def test_sparse_hessian_at_a_bound():
    n = 10
    x = point(n, 13)
    P = tridiag_pattern(n)
    lb = np.full(n, -np.inf)
    lb[3] = x[3]
    seen = []

    def f(v):
        seen.append(v.copy())
        return rosen(v)

    H = hessian(f, x, bounds=(lb, np.inf), sparsity=P)
    assert np.all(np.array(seen) >= lb)
    assert sparse_rel_err(H, rosen_hess_banded(x)) < 1e-4
    H2 = hessian(rosen, x, grad=rosen_der, bounds=(lb, np.inf), sparsity=P)
    assert sparse_rel_err(H2, rosen_hess_banded(x)) < 1e-6


@pytest.fixture(scope="module")
def rosen_native():
    numba = pytest.importorskip("numba")
    from numba import carray

    @numba.cfunc("float64(intc, CPointer(float64))")
    def rosen_nb(n, xp):
        x = carray(xp, (n,))
        s = 0.0
        for i in range(n - 1):
            a = x[i + 1] - x[i] * x[i]
            b = 1.0 - x[i]
            s += 100.0 * a * a + b * b
        return s

    return rosen_nb


def test_sparse_hessian_native_threads(rosen_native):
    n = 3000
    x = point(n, 14)
    P = sp.csr_array(rosen_hess_banded(x) != 0)
    H1 = hessian(rosen_native, x, sparsity=P)
    H2 = hessian(rosen_native, x, sparsity=P, workers=2)
    assert_array_equal(H1.toarray(), H2.toarray())
    assert sparse_rel_err(H1, hessian(rosen, x, sparsity=P)) < 1e-5
    assert sparse_rel_err(H1, rosen_hess_banded(x)) < 1e-4


def test_sparse_hessian_bad_input_named():
    n = 6
    x = point(n)
    hessian(rosen, x, sparsity=tridiag_pattern(n))
    with pytest.raises(ValueError, match="`sparsity`"):
        hessian(rosen, x, sparsity=tridiag_pattern(n + 1))
    with pytest.raises(ValueError, match="`sparsity`"):
        hessian(rosen, x, sparsity=np.full((n, n), 0.5))
    with pytest.raises(TypeError, match="`sparsity`"):
        hessian(rosen, x, sparsity=np.full((n, n), "a"))
    with pytest.raises(ValueError, match="`sparsity`"):
        hessian(rosen, x, grad=rosen_der, sparsity=coloring(tridiag_pattern(n)))
    with pytest.raises(ValueError, match="`sparsity`"):
        hessian(rosen, x, grad=rosen_der,
                sparsity=coloring(tridiag_pattern(n + 1), kind="hessian"))


def test_wrong_pattern_spills_into_colour_mates():
    """What the detect_sparsity docstring warns about: an entry missing from the pattern
    corrupts the entries sharing its compressed column."""
    n = 10
    x = point(n, 15)
    bad = np.eye(n, dtype=bool)     # the off-diagonals are missing
    H = hessian(rosen, x, grad=rosen_der, sparsity=bad)
    assert sparse_rel_err(sp.csr_array(np.diag(H.diagonal())),
                          sp.csr_array(np.diag(rosen_hess(x).diagonal()))) > 1e-2


# ============================================================ sparsity detection
@pytest.mark.parametrize("name", list(PROBLEMS))
def test_detect_sparsity_recovers_hessian_patterns(name):
    f, _, hess, pattern = PROBLEMS[name]
    n = 10
    x = point(n, 16)
    P = detect_sparsity(f, x, hessian=True, seed=1)
    expected = sp.csr_array(pattern(n)).toarray().astype(bool)
    assert isinstance(P, sp.csr_array) and P.dtype == bool
    assert_array_equal(P.toarray(), expected)


def test_detect_sparsity_jacobian_and_modes():
    n = 10
    x = point(n, 17)
    P = detect_sparsity(banded_F, x, seed=0)
    assert_array_equal(P.toarray(), tridiag_pattern(n))
    Pv = detect_sparsity(lambda X: np.array([banded_F(r) for r in X]), x, vectorized=True,
                         seed=0)
    assert_array_equal(Pv.toarray(), P.toarray())
    Pm = detect_sparsity(rosen, x, hessian=True, workers=map, seed=0)
    assert_array_equal(Pm.toarray(), tridiag_pattern(n))
    J = jacobian(banded_F, x, sparsity=P)
    assert sparse_rel_err(J, banded_J(x)) < 1e-7


def test_detect_sparsity_bad_input_named():
    detect_sparsity(rosen, np.ones(3), hessian=True, n_probes=1)
    with pytest.raises(ValueError, match="`n_probes`"):
        detect_sparsity(rosen, np.ones(3), hessian=True, n_probes=0)
    with pytest.raises(TypeError, match="`n_probes`"):
        detect_sparsity(rosen, np.ones(3), hessian=True, n_probes=1.5)
    with pytest.raises(TypeError, match="`hessian`"):
        detect_sparsity(rosen, np.ones(3), hessian="yes")


# ============================================================ kernel entry points
def test_directional_kernel_returns_every_output():
    """directional() sums the stencil for all m values f returns (it used to store m
    values into one scalar)."""
    n = 4
    x = point(n, 18)
    u = np.array([0.5, -1.0, 0.0, 2.0])
    obj = _diff.make_python_objective(banded_F, (), n, (n,))
    d = _diff.directional(obj, x, u, 1e-6, _diff.ST["central2"])
    assert d.shape == (n,)
    assert_allclose(d, banded_J(x) @ u, rtol=1e-7, atol=1e-8)


def test_kernel_entry_checks_run_when_f0_is_given():
    n = 3
    x = point(n)
    obj = _diff.make_python_objective(rosen, (), n)
    h = np.full(n, 1e-5)
    sid = np.full(n, _diff.ST["forward1"], dtype=np.int8)
    f0 = np.array([rosen(x)])
    ok = _diff.finite_differences(obj, x.copy(), h, np.arange(n, dtype=np.intp), sid, f0)
    assert_allclose(ok[:, 0], rosen_der(x), rtol=1e-3)
    with pytest.raises(ValueError, match="out of range"):
        _diff.finite_differences(obj, x.copy(), h, np.array([n], dtype=np.intp), sid, f0)
    bad_sid = sid.copy()
    bad_sid[0] = 99
    with pytest.raises(ValueError, match="stencil"):
        _diff.finite_differences(obj, x.copy(), h, np.array([0], dtype=np.intp), bad_sid, f0)


def test_f_may_keep_weak_references_to_its_argument():
    """An array f holds a weak reference to is never refilled by a later call."""
    kept = []

    def f(v):
        kept.append((weakref.ref(v), v.copy()))
        return float(np.sum(np.sin(v)))

    x = point(5, 19)
    jacobian(f, x)
    assert len(kept) == 2 * 5 + 1
    for r, c in kept:          # an array still alive was not handed to f again
        a = r()
        if a is not None:
            assert_array_equal(a, c)


# ============================================================ adaptive Hessian
def rel_err(value, exact):
    """Norm-wise relative error max|value - exact| / max|exact|."""
    return float(np.max(np.abs(value - exact)) / np.max(np.abs(exact)))


def xy_f(v):
    return v[0] ** 2 * v[1] + np.exp(v[0] * v[1])


def xy_hess(v):
    x, y = v
    e = np.exp(x * y)
    return np.array([[2 * y + y * y * e, 2 * x + e + x * y * e],
                     [2 * x + e + x * y * e, x * x * e]])


def sinexp(v):
    return float(np.sum(np.sin(v) * np.exp(v / 3)))


def sinexp_hess(v):
    return np.diag(np.exp(v / 3) * (-np.sin(v) + 2 / 3 * np.cos(v) + np.sin(v) / 9))


def _covered(res, exact):
    err = np.abs(res.value - exact)
    return float(np.mean(res.error >= err))


def test_adaptive_hessian_rosen_random_points():
    rng = np.random.default_rng(20)
    cover = []
    for _ in range(10):
        x = rng.uniform(-2, 2, 20)
        res = hessian(rosen, x, h="adaptive", full_output=True)
        assert rel_err(res.value, rosen_hess(x)) <= 1e-10
        assert_array_equal(res.value, res.value.T)
        cover.append(_covered(res, rosen_hess(x)))
        # the default Hessian from f is far less accurate: the mode does something
        assert rel_err(hessian(rosen, x), rosen_hess(x)) > 1e-9
    assert np.mean(cover) >= 0.95


def test_adaptive_hessian_xy_and_sinexp():
    res = hessian(xy_f, [1.0, 2.0], h="adaptive", full_output=True)
    assert rel_err(res.value, xy_hess([1.0, 2.0])) <= 1e-10
    assert _covered(res, xy_hess([1.0, 2.0])) >= 0.95
    x = np.array([0.5, -2.0, 3.0, 30.0, 100.0, 300.0, 1000.0])
    res = hessian(sinexp, x, h="adaptive", full_output=True)
    assert rel_err(res.value, sinexp_hess(x)) <= 1e-10
    assert _covered(res, sinexp_hess(x)) >= 0.95


def test_adaptive_hessian_sparse_grad_and_modes():
    n = 40
    x = np.random.default_rng(21).uniform(-2, 2, n)
    P = tridiag_pattern(n)
    c = Counter(rosen)
    res = hessian(c, x, h="adaptive", sparsity=P, full_output=True)
    assert isinstance(res.value, sp.csr_array) and res.value.nnz == 3 * n - 2
    assert rel_err(res.value.toarray(), rosen_hess(x)) <= 1e-10
    assert c.calls == res.nfev
    assert c.calls < hessian(rosen, x, h="adaptive", full_output=True).nfev / 5
    err = np.abs(res.value.data - on_pattern(rosen_hess(x), res.value))
    assert np.mean(res.error.data >= err) >= 0.95
    rows = lambda X: np.array([rosen(r) for r in X])  # noqa: E731
    assert_array_equal(hessian(rows, x, h="adaptive", vectorized=True, sparsity=P).toarray(),
                       res.value.toarray())
    Hg = hessian(rosen, x, grad=rosen_der, h="adaptive")
    assert rel_err(Hg, rosen_hess(x)) <= 1e-10
    lb = np.full(n, -np.inf)
    lb[0] = x[0] - 1e-3
    seen = []

    def f(v):
        seen.append(v.copy())
        return rosen(v)

    Hb = hessian(f, x, h="adaptive", bounds=(lb, np.inf))
    assert np.all(np.array(seen) >= lb)
    assert rel_err(Hb, rosen_hess(x)) <= 1e-6   # steps shrunk to the room: less accurate


def test_adaptive_hessian_bad_input_named():
    hessian(rosen, np.ones(3), h="adaptive")
    with pytest.raises(ValueError, match="`h`"):
        hessian(rosen, np.ones(3), h="adaptve")
    with pytest.raises(ValueError, match="`h='adaptive'`"):
        hessian(rosen, np.ones(3), grad=rosen_der, h="adaptive", sparsity=np.eye(3))
    with pytest.raises(ValueError, match="`h='adaptive'`"):
        hessian(rosen, np.ones(3), h="adaptive", bounds=(1.0, 2.0))


def test_sparse_hessian_nfev_is_the_number_of_calls():
    n = 15
    x = point(n, 22)
    for kw in ({}, {"grad": rosen_der}):
        c = Counter(rosen_der if kw else rosen)
        if kw:
            res = hessian(rosen, x, grad=c, sparsity=tridiag_pattern(n), full_output=True)
        else:
            res = hessian(c, x, sparsity=tridiag_pattern(n), full_output=True)
        assert res.nfev == c.calls


def test_sparse_nonfinite_warning_names_columns():
    n = 8
    x = point(n, 23)
    jacobian(banded_F, x, sparsity=tridiag_pattern(n))   # finite: no warning needed

    def F(v):
        out = banded_F(v)
        if v[5] != x[5]:
            out[4] = np.nan
        return out

    with pytest.warns(RuntimeWarning, match=r"columns \[5\]"):
        J = jacobian(F, x, sparsity=tridiag_pattern(n))
    assert np.isnan(J[4, 5]) and np.isfinite(J[4, 3])


def test_hessian_at_a_bound_does_not_revalidate_per_gradient(monkeypatch):
    """The one-sided Hessian at a bound differentiates the bounded gradient through the
    stencil directly, not through the public numerical_gradient (2n full re-checks)."""
    import fastgrad._gradients as G

    n = 6
    x = point(n, 24)
    lb = np.full(n, -np.inf)
    lb[2] = x[2]
    before = hessian(rosen, x, bounds=(lb, np.inf))
    assert rel_err(before, rosen_hess(x)) < 1e-5

    def forbidden(*a, **k):
        raise AssertionError("public numerical_gradient called")

    monkeypatch.setattr(G, "numerical_gradient", forbidden)
    assert_array_equal(hessian(rosen, x, bounds=(lb, np.inf)), before)
    Hs = hessian(rosen, x, bounds=(lb, np.inf), sparsity=tridiag_pattern(n))
    assert sparse_rel_err(Hs, rosen_hess_banded(x)) < 1e-5
