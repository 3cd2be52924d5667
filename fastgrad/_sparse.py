"""Sparse Jacobians and Hessians: colourings, perturbation plans, recovery, sparsity
detection.

A colouring (``fastgrad._coloring``, compiled) partitions the columns into groups that
can be perturbed together; the one stencil kernel of ``fastgrad._diff`` evaluates each
group's compressed column; the compiled recovery scatters the compressed columns into
the pattern's entries.  No dense n x n array is ever formed.
"""
from __future__ import annotations

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
    (2, [0, 1, 0, 1])
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
