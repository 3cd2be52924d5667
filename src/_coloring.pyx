"""Graph colourings of sparsity patterns and the recovery of sparse derivatives
(compiled as ``fastgrad._coloring``).

Called only by ``fastgrad._sparse``, which has already checked the pattern and turned it
into sorted CSR/CSC index arrays (``intp``).

Colourings (all greedy, in the order given, so deterministic):

- ``column_coloring``: columns sharing a row get different colours (a distance-1
  colouring of the column-intersection graph, i.e. a partial distance-2 colouring of the
  bipartite row/column graph).  Columns of one colour can be perturbed together.
- ``star_coloring``: a distance-1 colouring of the adjacency graph of a symmetric
  pattern in which every path on four vertices uses at least three colours, so every
  entry of a symmetric matrix can be read directly from the compressed product.
- ``acyclic_coloring``: a distance-1 colouring in which every cycle uses at least three
  colours; fewer colours, the entries then follow by substitution along the two-coloured
  trees.

The star and acyclic algorithms follow Gebremedhin, Tarafdar, Manne and Pothen (2007),
"New acyclic and star coloring algorithms with application to computing Hessians"
(Algorithms 4.1 and 3.1): two-coloured stars with their hubs, and a disjoint-set forest
of the edges of the two-coloured trees.

Recovery (``recover_*``): from the compressed differences ``D[g, r]`` (group g, output
r; ``D[g] ~ sum_{i in g} h_i * column i``) to the entries of the pattern, in CSR order.
"""
import numpy as np

cimport numpy as cnp
from libc.stdlib cimport free, malloc

cnp.import_array()

ctypedef cnp.intp_t intp


cdef inline intp _position(const intp[::1] indptr, const intp[::1] indices, intp u,
                           intp v) noexcept nogil:
    """Index of v in the sorted row u of a CSR pattern; -1 when absent."""
    cdef intp lo = indptr[u], hi = indptr[u + 1], mid
    while lo < hi:
        mid = (lo + hi) >> 1
        if indices[mid] < v:
            lo = mid + 1
        else:
            hi = mid
    if lo < indptr[u + 1] and indices[lo] == v:
        return lo
    return -1


cdef inline intp _edge(const intp[::1] indptr, const intp[::1] indices, intp u,
                       intp v) noexcept nogil:
    """The id of the undirected edge {u, v}: its position in the row of min(u, v)."""
    if u < v:
        return _position(indptr, indices, u, v)
    return _position(indptr, indices, v, u)


cdef inline intp _smallest_allowed(const intp *forbidden, intp stamp) noexcept nogil:
    cdef intp c = 1
    while forbidden[c] == stamp:
        c += 1
    return c


def column_coloring(const intp[::1] col_ptr, const intp[::1] col_rows,
                    const intp[::1] row_ptr, const intp[::1] row_cols,
                    const intp[::1] order):
    """Colours (0-based) of the columns: two columns sharing a row differ.

    col_ptr/col_rows: the pattern in CSC form; row_ptr/row_cols: in CSR form.
    """
    cdef intp n = col_ptr.shape[0] - 1, t, j, k, r, q, c
    colors = np.zeros(n, dtype=np.intp)
    cdef intp[::1] color = colors
    cdef intp *forbidden = <intp *>malloc((n + 2) * sizeof(intp))
    if forbidden == NULL:
        raise MemoryError()
    with nogil:
        for t in range(n + 2):
            forbidden[t] = -1
        for t in range(n):
            j = order[t]
            for k in range(col_ptr[j], col_ptr[j + 1]):
                r = col_rows[k]
                for q in range(row_ptr[r], row_ptr[r + 1]):
                    c = color[row_cols[q]]
                    if c > 0:
                        forbidden[c] = j
            color[j] = _smallest_allowed(forbidden, j)
    free(forbidden)
    return colors - 1


cdef void _treat(intp *treated, intp *forbidden, const intp[::1] ptr, const intp[::1] idx,
                 const intp[::1] color, intp v, intp w) noexcept nogil:
    """Forbid (for v) the colours of every coloured neighbour of w."""
    cdef intp k, c
    for k in range(ptr[w], ptr[w + 1]):
        c = color[idx[k]]
        if c > 0:
            forbidden[c] = v
    treated[w] = v


def star_coloring(const intp[::1] ptr, const intp[::1] idx, const intp[::1] order):
    """Star colouring (0-based colours) of the graph with symmetric adjacency ptr/idx
    (sorted, no self loops)."""
    cdef intp n = ptr.shape[0] - 1, ne = idx.shape[0]
    cdef intp t, v, w, x, k, q, c, e, s, p, qq, nstars = 0
    cdef bint found
    colors = np.zeros(n, dtype=np.intp)
    cdef intp[::1] color = colors
    cdef intp[::1] forbidden = np.full(n + 2, -1, dtype=np.intp)
    cdef intp[::1] treated = np.full(n + 1, -1, dtype=np.intp)
    cdef intp[::1] first_v = np.full(n + 2, -1, dtype=np.intp)   # per colour: (v, w)
    cdef intp[::1] first_w = np.full(n + 2, -1, dtype=np.intp)
    cdef intp[::1] star = np.full(max(ne, 1), -1, dtype=np.intp)  # edge -> star
    cdef intp[::1] hub = np.full(max(ne, 1), -1, dtype=np.intp)   # star -> hub (-1: none yet)
    with nogil:
        for t in range(n):
            v = order[t]
            for k in range(ptr[v], ptr[v + 1]):
                w = idx[k]
                c = color[w]
                if c == 0:
                    continue
                forbidden[c] = v
                p, qq = first_v[c], first_w[c]
                if p == v:
                    # v has two neighbours of colour c: no neighbour of either may
                    # share a colour with v (that would make a two-coloured path)
                    if treated[qq] != v:
                        _treat(&treated[0], &forbidden[0], ptr, idx, color, v, qq)
                    _treat(&treated[0], &forbidden[0], ptr, idx, color, v, w)
                else:
                    first_v[c], first_w[c] = v, w
                    for q in range(ptr[w], ptr[w + 1]):
                        x = idx[q]
                        if x == v or color[x] == 0:
                            continue
                        if hub[star[_edge(ptr, idx, w, x)]] == x:
                            # w is a spoke of a star centred on x: v must avoid x's colour
                            forbidden[color[x]] = v
            color[v] = _smallest_allowed(&forbidden[0], v)
            # update the two-coloured stars the edges of v belong to
            for k in range(ptr[v], ptr[v + 1]):
                w = idx[k]
                if color[w] == 0:
                    continue
                e = _edge(ptr, idx, v, w)
                found = False
                for q in range(ptr[w], ptr[w + 1]):
                    x = idx[q]
                    if x != v and color[x] == color[v]:
                        s = star[_edge(ptr, idx, w, x)]
                        hub[s] = w
                        star[e] = s
                        found = True
                        break
                if found:
                    continue
                c = color[w]
                p, qq = first_v[c], first_w[c]
                if p == v and qq != w:
                    s = star[_edge(ptr, idx, v, qq)]
                    hub[s] = v
                    star[e] = s
                else:
                    hub[nstars] = -1
                    star[e] = nstars
                    nstars += 1
    return colors - 1


cdef inline intp _find(intp *parent, intp a) noexcept nogil:
    cdef intp root = a, nxt
    while parent[root] != root:
        root = parent[root]
    while parent[a] != root:      # path compression
        nxt = parent[a]
        parent[a] = root
        a = nxt
    return root


cdef inline void _union(intp *parent, intp a, intp b) noexcept nogil:
    a = _find(parent, a)
    b = _find(parent, b)
    if a != b:
        parent[a] = b


def acyclic_coloring(const intp[::1] ptr, const intp[::1] idx, const intp[::1] order):
    """Acyclic colouring (0-based colours) of the graph with symmetric adjacency ptr/idx
    (sorted, no self loops)."""
    cdef intp n = ptr.shape[0] - 1, ne = idx.shape[0]
    cdef intp t, v, w, x, k, q, c, e, r, p, qq
    colors = np.zeros(n, dtype=np.intp)
    cdef intp[::1] color = colors
    cdef intp[::1] forbidden = np.full(n + 2, -1, dtype=np.intp)
    cdef intp[::1] first_v = np.full(n + 2, -1, dtype=np.intp)
    cdef intp[::1] first_w = np.full(n + 2, -1, dtype=np.intp)
    cdef intp[::1] visit_v = np.full(max(ne, 1), -1, dtype=np.intp)  # per tree (root edge)
    cdef intp[::1] visit_w = np.full(max(ne, 1), -1, dtype=np.intp)
    cdef intp[::1] parent = np.arange(max(ne, 1), dtype=np.intp)
    with nogil:
        for t in range(n):
            v = order[t]
            for k in range(ptr[v], ptr[v + 1]):
                c = color[idx[k]]
                if c > 0:
                    forbidden[c] = v
            for k in range(ptr[v], ptr[v + 1]):
                w = idx[k]
                if color[w] == 0:
                    continue
                for q in range(ptr[w], ptr[w + 1]):
                    x = idx[q]
                    if color[x] == 0 or forbidden[color[x]] == v:
                        continue
                    # the two-coloured tree holding edge wx: reached from v a second time
                    # through another neighbour, colour x would close a cycle
                    r = _find(&parent[0], _edge(ptr, idx, w, x))
                    p, qq = visit_v[r], visit_w[r]
                    if p != v:
                        visit_v[r], visit_w[r] = v, w
                    elif qq != w:
                        forbidden[color[x]] = v
            color[v] = _smallest_allowed(&forbidden[0], v)
            for k in range(ptr[v], ptr[v + 1]):     # grow two-coloured stars around v
                w = idx[k]
                c = color[w]
                if c == 0:
                    continue
                e = _edge(ptr, idx, v, w)
                if first_v[c] != v:
                    first_v[c], first_w[c] = v, w
                else:
                    _union(&parent[0], e, _edge(ptr, idx, v, first_w[c]))
            for k in range(ptr[v], ptr[v + 1]):     # merge trees joined through v
                w = idx[k]
                if color[w] == 0:
                    continue
                for q in range(ptr[w], ptr[w + 1]):
                    x = idx[q]
                    if x != v and color[x] == color[v]:
                        _union(&parent[0], _edge(ptr, idx, v, w), _edge(ptr, idx, w, x))
    return colors - 1


# --------------------------------------------------------------------------- recovery
def recover_jacobian(const double[:, ::1] D, const intp[::1] ptr, const intp[::1] idx,
                     const intp[::1] group, const double[::1] h):
    """Entries of the (m, n) Jacobian in the CSR order of ptr/idx:
    J[r, i] = D[group[i], r] / h[i]."""
    cdef intp m = ptr.shape[0] - 1, r, k, i
    data = np.empty(idx.shape[0], dtype=np.float64)
    cdef double[::1] out = data
    with nogil:
        for r in range(m):
            for k in range(ptr[r], ptr[r + 1]):
                i = idx[k]
                out[k] = D[group[i], r] / h[i]
    return data


def transpose_positions(const intp[::1] ptr, const intp[::1] idx):
    """For a symmetric sorted CSR pattern: the position of (j, i) for each entry (i, j)."""
    cdef intp n = ptr.shape[0] - 1, i, k, j
    tpos = np.empty(idx.shape[0], dtype=np.intp)
    cdef intp[::1] tp = tpos
    cdef intp[::1] nxt = np.zeros(n, dtype=np.intp)
    with nogil:
        for i in range(n):
            for k in range(ptr[i], ptr[i + 1]):
                j = idx[k]
                tp[k] = ptr[j] + nxt[j]
                nxt[j] += 1
    return tpos


def recover_star(const double[:, ::1] D, const intp[::1] ptr, const intp[::1] idx,
                 const intp[::1] group, const double[::1] h):
    """Entries of a symmetric matrix (pattern ptr/idx: symmetric, sorted, with the
    diagonal) from D[g, r] ~ sum_{i in g} h_i A[r, i], for groups forming a star
    colouring: A[r, i] is read where group[i] is the only group of its kind in row r,
    from either end of the entry (the mean when both ends allow it).  Exactly symmetric.
    Raises ValueError if some entry can be read from neither end."""
    cdef intp n = ptr.shape[0] - 1, ng = D.shape[0], r, k, i, kt, bad = -1
    cdef double a, b
    cdef bint oka, okb
    data = np.empty(idx.shape[0], dtype=np.float64)
    cdef double[::1] out = data
    cdef intp[::1] tpos = transpose_positions(ptr, idx)
    cdef intp[::1] count = np.zeros(max(ng, 1), dtype=np.intp)
    cdef signed char[::1] unique = np.zeros(idx.shape[0], dtype=np.int8)
    with nogil:
        for r in range(n):
            for k in range(ptr[r], ptr[r + 1]):
                count[group[idx[k]]] += 1
            for k in range(ptr[r], ptr[r + 1]):
                unique[k] = count[group[idx[k]]] == 1
            for k in range(ptr[r], ptr[r + 1]):
                count[group[idx[k]]] = 0
        for r in range(n):
            for k in range(ptr[r], ptr[r + 1]):
                i = idx[k]
                if i < r:
                    continue
                kt = tpos[k]
                oka = unique[k]          # A[r, i] from column group[i], row r
                okb = unique[kt]         # A[i, r] from column group[r], row i
                if oka:
                    a = D[group[i], r] / h[i]
                if okb:
                    b = D[group[r], i] / h[r]
                if oka and okb:
                    a = 0.5 * (a + b)
                elif okb:
                    a = b
                elif not oka:
                    bad = k
                    break
                out[k] = a
                out[kt] = a
            if bad >= 0:
                break
    if bad >= 0:
        raise ValueError("`sparsity`: the colouring is not a star colouring of the pattern, "
                         "an entry cannot be recovered directly")
    return data


def recover_acyclic(const double[:, ::1] D, const intp[::1] ptr, const intp[::1] idx,
                    const intp[::1] color, const double[::1] h):
    """Entries of a symmetric matrix (pattern ptr/idx: symmetric, sorted, with the
    diagonal) from D[c, r] ~ sum_{color[i] == c} h_i A[r, i], for an acyclic colouring.

    Diagonal: A[r, r] = D[color[r], r] / h[r] (no neighbour shares r's colour).  Each
    off-diagonal entry lies in the two-coloured forest of its two colours; peeling the
    leaves of that forest, the one remaining unknown of a leaf's row is solved for and
    subtracted from its neighbour's row.  Exactly symmetric.  Raises ValueError when
    the colouring is not acyclic on the pattern.
    """
    cdef intp n = ptr.shape[0] - 1, r, k, i, kt, j, u, w, nb, t, head, tail, a, b
    cdef intp nedges = 0, npairs, e, lo, hi, ncol = D.shape[0]
    cdef double val
    data = np.zeros(idx.shape[0], dtype=np.float64)
    cdef double[::1] out = data
    cdef intp[::1] tpos = transpose_positions(ptr, idx)
    # the off-diagonal entries above the diagonal, as edges, grouped by colour pair
    cdef intp nnz = idx.shape[0]
    edge_k = np.empty(nnz, dtype=np.intp)
    keys = np.empty(nnz, dtype=np.int64)
    cdef intp[::1] ek = edge_k
    cdef cnp.int64_t[::1] kk = keys
    for r in range(n):
        for k in range(ptr[r], ptr[r + 1]):
            i = idx[k]
            if i == r:
                out[k] = D[color[r], r] / h[r]
            elif i > r:
                a, b = color[r], color[i]
                if a == b:
                    raise ValueError("`sparsity`: the colouring is not a distance-1 "
                                     "colouring of the pattern")
                ek[nedges] = k
                kk[nedges] = (<cnp.int64_t>min(a, b)) * ncol + max(a, b)
                nedges += 1
    sel = np.argsort(keys[:nedges], kind="stable")
    cdef intp[::1] es = edge_k[:nedges][sel].copy()
    cdef cnp.int64_t[::1] ks = keys[:nedges][sel].copy()
    cdef intp[::1] deg = np.zeros(n, dtype=np.intp)
    cdef double[::1] resid = np.zeros(n, dtype=np.double)
    cdef signed char[::1] done = np.zeros(nnz, dtype=np.int8)
    cdef intp[::1] queue = np.empty(max(2 * nedges, 1), dtype=np.intp)
    cdef intp[::1] rowof = np.empty(nnz, dtype=np.intp)
    cdef intp failed = 0, solved
    for r in range(n):
        for k in range(ptr[r], ptr[r + 1]):
            rowof[k] = r
    with nogil:
        lo = 0
        while lo < nedges:
            hi = lo
            while hi < nedges and ks[hi] == ks[lo]:
                hi += 1
            # the forest of this colour pair: degrees and the rows' compressed values
            for t in range(lo, hi):
                k = es[t]
                u, w = rowof[k], idx[k]
                deg[u] = 0
                deg[w] = 0
            for t in range(lo, hi):
                k = es[t]
                u, w = rowof[k], idx[k]
                deg[u] += 1
                deg[w] += 1
                # the compressed value of row u for w's colour, minus the diagonal term
                resid[u] = D[color[w], u]
                resid[w] = D[color[u], w]
            head = 0
            tail = 0
            for t in range(lo, hi):
                k = es[t]
                u, w = rowof[k], idx[k]
                if deg[u] == 1:
                    queue[tail] = u
                    tail += 1
                    deg[u] = -1     # queued
                if deg[w] == 1:
                    queue[tail] = w
                    tail += 1
                    deg[w] = -1
            solved = 0
            while head < tail:
                u = queue[head]
                head += 1
                # the one unsolved edge of u in this forest
                nb = -1
                for k in range(ptr[u], ptr[u + 1]):
                    w = idx[k]
                    if w == u or done[k]:
                        continue
                    if (color[w] == color[u]):
                        continue
                    if ((<cnp.int64_t>min(color[u], color[w])) * ncol
                            + max(color[u], color[w])) != ks[lo]:
                        continue
                    nb = k
                    break
                if nb < 0:
                    continue        # last vertex of a tree: nothing left
                w = idx[nb]
                val = resid[u] / h[w]
                out[nb] = val
                out[tpos[nb]] = val
                done[nb] = 1
                done[tpos[nb]] = 1
                solved += 1
                resid[w] -= h[u] * val
                if deg[w] > 0:
                    deg[w] -= 1
                    if deg[w] == 1:
                        queue[tail] = w
                        tail += 1
                        deg[w] = -1
            if solved != hi - lo:
                failed = 1
                break
            lo = hi
    if failed:
        raise ValueError("`sparsity`: the colouring is not an acyclic colouring of the "
                         "pattern, an entry cannot be recovered by substitution")
    return data
