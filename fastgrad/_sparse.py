"""Sparse Jacobians and Hessians: colourings, perturbation plans, recovery, sparsity
detection.

A colouring (``fastgrad._coloring``, compiled) partitions the columns into groups that
can be perturbed together; the one stencil kernel of ``fastgrad._diff`` evaluates each
group's compressed column; the compiled recovery scatters the compressed columns into
the pattern's entries.  No dense n x n array is ever formed.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from . import _coloring
from ._validation import as_pattern

__all__ = ["Coloring", "coloring", "symmetric_pattern"]

_KINDS = ("jacobian", "hessian")
_METHODS = {"jacobian": ("greedy",), "hessian": ("star", "acyclic")}


@dataclass(frozen=True, repr=False)
class Coloring:
    """A colouring of the columns of a sparsity pattern, from :func:`fastgrad.coloring`.

    Attributes
    ----------
    colors : ndarray of intp, shape (n,)
        The colour (0, 1, ...) of each column.
    n_colors : int
        Number of colours: the number of perturbation groups.
    pattern : scipy.sparse.csr_array of bool
        The pattern coloured: as given for ``kind="jacobian"``; for ``kind="hessian"``
        the union of it, its transpose and the diagonal.
    kind : {"jacobian", "hessian"}
    method : {"greedy", "star", "acyclic"}

    Examples
    --------
    >>> import numpy as np
    >>> from fastgrad import coloring
    >>> c = coloring(np.eye(4, dtype=bool) | np.eye(4, k=1, dtype=bool))
    >>> c.n_colors, c.colors.tolist()
    (2, [1, 0, 1, 0])
    >>> bool(np.all(c.colors[:-1] != c.colors[1:]))  # neighbouring columns share a row
    True
    """

    colors: np.ndarray
    n_colors: int
    pattern: Any
    kind: str
    method: str

    def __repr__(self) -> str:
        return (f"Coloring(kind={self.kind!r}, method={self.method!r}, "
                f"shape={self.pattern.shape}, nnz={self.pattern.nnz}, "
                f"n_colors={self.n_colors})")


def _index_arrays(csr: Any) -> tuple[np.ndarray, np.ndarray]:
    return (np.ascontiguousarray(csr.indptr, dtype=np.intp),
            np.ascontiguousarray(csr.indices, dtype=np.intp))


def symmetric_pattern(pattern: Any) -> Any:
    """The union of a square boolean csr pattern, its transpose and the diagonal."""
    n = pattern.shape[0]
    full = (pattern + pattern.T + sp.eye_array(n, dtype=bool, format="csr")).tocsr()
    full = sp.csr_array(full, dtype=bool)
    full.sum_duplicates()
    full.eliminate_zeros()
    return full


def _adjacency(sym: Any) -> tuple[np.ndarray, np.ndarray]:
    """The off-diagonal part of a symmetric csr pattern: sorted CSR index arrays."""
    off = sp.csr_array(sym - sp.diags_array(sym.diagonal(), format="csr", dtype=bool),
                       dtype=bool)
    off.eliminate_zeros()
    off.sort_indices()
    return _index_arrays(off)


def _largest_first(degree: np.ndarray) -> np.ndarray:
    """Vertices by decreasing degree, ties by index: a deterministic greedy order."""
    return np.argsort(-degree, kind="stable").astype(np.intp)


def coloring(pattern: Any, *, kind: str = "jacobian", method: str | None = None) -> Coloring:
    """Colour the columns of a sparsity pattern for sparse finite differences.

    Parameters
    ----------
    pattern : array_like of bool, shape (m, n), or scipy.sparse matrix or array
        Its nonzeros (True or 1) are the entries that may be nonzero.
    kind : {"jacobian", "hessian"}
        ``"jacobian"``: columns that share no row get the same colour (greedy, in order
        of decreasing column count); one colour costs 2 calls of f (central differences)
        or 1 (forward).  ``"hessian"``: a colouring of the symmetric pattern (the union of
        the pattern, its transpose and the diagonal; square), for a Hessian from a gradient.
    method : {"star", "acyclic"}, optional
        For ``kind="hessian"``: ``"star"`` (default), every entry read directly from the
        compressed columns; ``"acyclic"``, fewer colours, entries recovered by substitution
        along two-coloured trees (Gebremedhin, Tarafdar, Manne and Pothen, 2007).  For
        ``kind="jacobian"`` only ``None`` or ``"greedy"``.

    Returns
    -------
    Coloring
        Reusable as ``sparsity=`` of :func:`jacobian` / :func:`hessian` across calls.

    Raises
    ------
    TypeError, ValueError
        A pattern that is not 2-D, empty, holding values other than booleans or 0/1, not
        square for ``kind="hessian"``; an unknown kind or method.

    Examples
    --------
    >>> import numpy as np
    >>> from fastgrad import coloring
    >>> tri = np.eye(6, dtype=bool) | np.eye(6, k=1, dtype=bool) | np.eye(6, k=-1, dtype=bool)
    >>> coloring(tri).n_colors
    3
    >>> coloring(tri, kind="hessian", method="acyclic").n_colors
    2
    """
    if not isinstance(kind, str) or kind not in _KINDS:
        raise ValueError(f"`kind` must be 'jacobian' or 'hessian', got {kind!r}")
    if method is None:
        method = _METHODS[kind][0]
    if not isinstance(method, str) or method not in _METHODS[kind]:
        raise ValueError(f"`method` must be one of {_METHODS[kind]} for kind={kind!r}, "
                         f"got {method!r}")
    csr = as_pattern(pattern, "pattern")
    if kind == "jacobian":
        csc = csr.tocsc()
        csc.sort_indices()
        cptr, crows = _index_arrays(csc)
        rptr, rcols = _index_arrays(csr)
        colors = _coloring.column_coloring(cptr, crows, rptr, rcols,
                                           _largest_first(np.diff(cptr)))
        return Coloring(colors, int(colors.max()) + 1, csr, kind, method)
    if csr.shape[0] != csr.shape[1]:
        raise ValueError(f"`pattern` must be square for kind='hessian', got shape {csr.shape}")
    sym = symmetric_pattern(csr)
    ptr, idx = _adjacency(sym)
    order = _largest_first(np.diff(ptr))
    fn = _coloring.star_coloring if method == "star" else _coloring.acyclic_coloring
    colors = fn(ptr, idx, order)
    return Coloring(colors, int(colors.max()) + 1, sym, kind, method)


def as_coloring(sparsity: Any, kind: str, shape: tuple[int, int]) -> Coloring:
    """``sparsity=`` of jacobian/hessian as a Coloring of the right kind and shape."""
    if isinstance(sparsity, Coloring):
        if sparsity.kind != kind:
            raise ValueError(f"`sparsity` is a Coloring of kind {sparsity.kind!r}; "
                             f"{kind} needs kind={kind!r}")
        if tuple(sparsity.pattern.shape) != tuple(shape):
            raise ValueError(f"`sparsity` is a Coloring of a {sparsity.pattern.shape} "
                             f"pattern; shape {tuple(shape)} is needed here")
        return sparsity
    pattern = as_pattern(sparsity, "sparsity", shape)
    return coloring(pattern, kind=kind)


def groups(colors: np.ndarray, sid: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The perturbation groups of a colouring: columns of one colour and one stencil.

    Returns (group of each column, the columns ordered by group, group pointers).
    Splitting a colour class keeps a colouring valid (and star/acyclic).
    """
    key = colors.astype(np.int64) * 64 + sid.astype(np.int64)
    _, group = np.unique(key, return_inverse=True)
    group = group.astype(np.intp).reshape(-1)
    order = np.argsort(group, kind="stable").astype(np.intp)
    gptr = np.zeros(int(group.max()) + 2, dtype=np.intp)
    np.add.at(gptr, group + 1, 1)
    return group, order, np.cumsum(gptr).astype(np.intp)


def recover(col: Coloring, D: np.ndarray, group: np.ndarray, steps: np.ndarray) -> Any:
    """The csr_array of the pattern's entries from the compressed columns D (groups, m)."""
    ptr, idx = _index_arrays(col.pattern)
    D = np.ascontiguousarray(D, dtype=np.float64)
    if col.kind == "jacobian":
        data = _coloring.recover_jacobian(D, ptr, idx, group, steps)
    elif col.method == "star":
        data = _coloring.recover_star(D, ptr, idx, group, steps)
    else:
        data = _coloring.recover_acyclic(D, ptr, idx, group, steps)
    return sp.csr_array((data, idx.copy(), ptr.copy()), shape=col.pattern.shape)


def upper_pairs(sym: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Of a symmetric sorted csr pattern with the diagonal: the positions of the
    diagonal entries, of the entries above it, their (row, col), and the transposes."""
    ptr, idx = _index_arrays(sym)
    rows = np.repeat(np.arange(sym.shape[0], dtype=np.intp), np.diff(ptr))
    diag = np.flatnonzero(rows == idx)
    up = np.flatnonzero(idx > rows)
    tpos = _coloring.transpose_positions(ptr, idx)
    return diag, up, rows, tpos


def hessian_from_pairs(sym: Any, V: np.ndarray, f0: float, steps: np.ndarray) -> Any:
    """The csr Hessian from the values of ``_diff.pair_values`` at the n axis pairs
    followed by the pairs above the diagonal of ``sym`` (in CSR order)."""
    n = sym.shape[0]
    ptr, idx = _index_arrays(sym)
    diag, up, rows, tpos = upper_pairs(sym)
    fp, fm = V[:n, 0], V[:n, 1]
    data = np.empty(idx.shape[0])
    data[diag] = ((fp - f0) + (fm - f0)) / (steps * steps)
    i, j = rows[up], idx[up]
    fpp, fmm = V[n:, 0], V[n:, 1]
    num = ((fpp - fp[i] - fp[j] + f0) + (fmm - fm[i] - fm[j] + f0))
    vals = num / (2.0 * steps[i] * steps[j])
    data[up] = vals
    data[tpos[up]] = vals
    return sp.csr_array((data, idx.copy(), ptr.copy()), shape=(n, n))


def pairs_of(sym: Any) -> tuple[np.ndarray, np.ndarray]:
    """The coordinate pairs of the sparse Hessian from f: (i, -1) for every i, then
    (i, j) for the entries above the diagonal."""
    n = sym.shape[0]
    _, up, rows, _ = upper_pairs(sym)
    idx = np.asarray(sym.indices, dtype=np.intp)
    pi = np.concatenate([np.arange(n, dtype=np.intp), rows[up]])
    pj = np.concatenate([np.full(n, -1, dtype=np.intp), idx[up]])
    return np.ascontiguousarray(pi), np.ascontiguousarray(pj)


__all__ += ["as_coloring", "groups", "recover", "hessian_from_pairs", "pairs_of"]


def detect_sparsity(f: Any, x: Any, *, hessian: bool = False, n_probes: int = 3,
                    args: tuple = (), vectorized: bool = False, workers: Any = None,
                    seed: Any = None) -> Any:
    """The sparsity pattern of f's Jacobian (or Hessian) seen at random points near x.

    At each of ``n_probes`` points drawn uniformly within ``1e-3 * max(1, |x_i|)`` of x,
    the Jacobian pattern is read from forward differences with a large step
    (``1e-2 * max(1, |x_i|)``): entry (k, i) is kept when moving x_i changes f_k at all
    (n + 1 calls of f per point).  With ``hessian=True`` (scalar f), entry (i, j) is kept
    when the mixed second difference of f along x_i and x_j exceeds its rounding error
    (1 + 2n + n (n - 1) calls per point: for moderate n only).  The result is the union
    over the points, with the diagonal always included for a Hessian.

    What it can miss: an entry that happens to vanish at every probe point (an
    accidental zero, such as a term ``x_i * x_j`` probed where ``x_j`` is zero, or a
    mixed term far below the rounding error of f), and any dependence behind a branch
    that the probes do not take (``if x[0] > 10: ...``).  A missed entry is taken to be
    zero by :func:`jacobian` / :func:`hessian` with ``sparsity=``: it is not computed, and
    worse, since its column shares a colour with others, its value is added to the
    entries recovered from the same compressed column, which are then wrong.  Give the
    pattern by hand when f has branches, or add a margin (the union of a few patterns).

    Parameters
    ----------
    f : callable
        ``f(x, *args)``: a scalar or an array of shape (m,) (``hessian=True``: a scalar).
    x : array_like, shape (n,)
    hessian : bool
        Detect the Hessian pattern of a scalar f instead of the Jacobian pattern.
    n_probes : int
        Number of random points, >= 1.
    args, vectorized, workers
        As in :func:`numerical_gradient`.
    seed : int or numpy.random.Generator, optional
        For the random points.

    Returns
    -------
    scipy.sparse.csr_array of bool, shape (m, n) or (n, n)

    Examples
    --------
    >>> import numpy as np
    >>> from fastgrad import detect_sparsity
    >>> P = detect_sparsity(lambda v: np.sum((v[0] * v[1:])**2), np.ones(5), hessian=True,
    ...                     seed=0)
    >>> P.toarray().astype(int)[:3].tolist()
    [[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, 0, 1, 0, 0]]
    """
    from . import _diff, _steps
    from ._modes import Evaluator
    from ._validation import as_point, check_args

    x, eps = as_point(x)
    args = check_args(args)
    if isinstance(hessian, (np.bool_,)):
        hessian = bool(hessian)
    if not isinstance(hessian, bool):
        raise TypeError(f"`hessian` must be a bool, got {type(hessian).__name__}")
    if isinstance(n_probes, (bool, np.bool_)) or not isinstance(n_probes, (int, np.integer)):
        raise TypeError(f"`n_probes` must be an integer, got {type(n_probes).__name__}")
    if n_probes < 1:
        raise ValueError(f"`n_probes` must be >= 1, got {n_probes}")
    rng = np.random.default_rng(seed)
    n = x.shape[0]
    scale = np.maximum(1.0, np.abs(x))
    if hessian:
        ev = Evaluator(f, args, n, vectorized=vectorized, workers=workers)
        full = sp.csr_array(np.triu(np.ones((n, n), dtype=bool)))
        sym = symmetric_pattern(full)
        pi, pj = pairs_of(sym)
        _, up, rows, _ = upper_pairs(sym)
        cols = np.asarray(sym.indices)[up]
        keep = np.zeros(up.shape[0], dtype=bool)
        for _ in range(int(n_probes)):
            z = x + 1e-3 * scale * rng.uniform(-1.0, 1.0, n)
            st = _steps.representable(z, 1e-2 * np.maximum(1.0, np.abs(z)))
            f0 = float(ev.at(z)[0])
            V = ev.run(_pairs_kernel(z, st, pi, pj))
            fp, fm = V[:n, 0], V[:n, 1]
            i, j = rows[up], cols
            num = (V[n:, 0] - fp[i] - fp[j] + f0) + (V[n:, 1] - fm[i] - fm[j] + f0)
            noise = 64 * eps * (np.abs(V[n:, 0]) + np.abs(V[n:, 1]) + np.abs(fp[i])
                                + np.abs(fp[j]) + np.abs(fm[i]) + np.abs(fm[j]) + 2 * abs(f0))
            keep |= np.abs(num) > noise
        upper = sp.coo_array((np.ones(int(keep.sum()), dtype=bool),
                              (rows[up][keep], cols[keep])), shape=(n, n)).tocsr()
        return symmetric_pattern(upper)
    probe = Evaluator(f, args, n, (), vectorized=vectorized, allow_native=False)
    if vectorized:
        r = np.asarray(f(x[None, :].copy(), *args))
        out_shape = tuple(r.shape[1:])
    else:
        out_shape = tuple(_diff.evaluate_shape(probe.obj, x)[1])
    m = int(np.prod(out_shape)) if out_shape else 1
    ev = Evaluator(f, args, n, out_shape, vectorized=vectorized, workers=workers,
                   allow_native=False)
    sid = np.full(n, _diff.ST["forward1"], dtype=np.int8)
    chunk = max(1, (1 << 22) // max(m, 1))
    found_r: list[np.ndarray] = []
    found_c: list[np.ndarray] = []
    for _ in range(int(n_probes)):
        z = x + 1e-3 * scale * rng.uniform(-1.0, 1.0, n)
        st = _steps.representable(z, 1e-2 * np.maximum(1.0, np.abs(z)))
        fz = ev.at(z)
        for lo in range(0, n, chunk):
            coords = np.arange(lo, min(n, lo + chunk), dtype=np.intp)
            D = ev.run(_forward_kernel(z, st, coords, sid, fz))
            cc, rr = np.nonzero(D != 0)
            found_r.append(rr)
            found_c.append(coords[cc])
    rr = np.concatenate(found_r)
    cc = np.concatenate(found_c)
    P = sp.coo_array((np.ones(rr.shape[0], dtype=bool), (rr, cc)), shape=(m, n)).tocsr()
    return as_pattern(P, "pattern")


def _pairs_kernel(z: np.ndarray, st: np.ndarray, pi: np.ndarray,
                  pj: np.ndarray) -> Callable[[Any, int], np.ndarray]:
    from . import _diff

    return lambda obj, nt: _diff.pair_values(obj, z, st, pi, pj, nt)


def _forward_kernel(z: np.ndarray, st: np.ndarray, coords: np.ndarray, sid: np.ndarray,
                    fz: np.ndarray) -> Callable[[Any, int], np.ndarray]:
    from . import _diff

    return lambda obj, nt: _diff.finite_differences(obj, z, st, coords, sid, fz, nt)


__all__ += ["detect_sparsity"]
