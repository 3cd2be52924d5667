"""fastgrad's benchmark suite: fastgrad side by side with what users already have.

Run from the repository root::

    python -m benchmarks                 # every section, writes benchmarks/RESULTS.md + ratios.png
    python -m benchmarks --quick         # reduced sizes and repeats, for CI (< 1 minute)
    python -m benchmarks --only 5 --only fit

Sections (one module each, see ``SECTIONS``):

1. ``python``     Python callable rosen: numerical_gradient vs a bare 2n-call loop and scipy.
2. ``native``     rosen as a numba cfunc through LowLevelCallable vs a numba @njit loop.
3. ``vectorized`` numerical_gradient(..., vectorized=True) vs the per-point path.
4. ``hessian``    hessian of rosen vs numdifftools and scipy.differentiate, with accuracy.
5. ``losses``     mse_gradient / logistic_gradient vs the plain NumPy expression, GB/s.
6. ``fit``        the compiled fits vs NumPy, JAX and PyTorch versions of the same loop.
7. ``memory``     peak extra memory of a fit at 1000000x20, as a share of X's size.
8. ``threads``    the interleaved pipeline: fastgrad between NumPy calls, workers = 1, 2, None.
9. ``softmax``    softmax_gradient and fit_softmax_regression vs NumPy, JAX and PyTorch.
10. ``scale``     Dask arrays on a LocalCluster and memory-mapped X (time per epoch, memory).
11. ``sparse``    sparse Hessians/Jacobians (colourings) and the adaptive Hessian.
12. ``optimizers`` momentum, Nesterov, AdaGrad, RMSProp, Adam and mini-batches vs
    torch.optim, optax under JAX and SGDRegressor.

Every measurement is timeit-style: one warm-up call, an autoranged inner loop, then at
least five repeats; the competitors of one case are timed interleaved, repeat by
repeat, so that a change of machine load hits all of them alike.  Medians are
reported, and ratios of medians.  Optional anchors (scipy.differentiate, numdifftools,
numba, jax, torch, matplotlib, tqdm) that are missing are skipped with a note.

This module imports nothing heavy: ``python -m benchmarks`` must be able to adjust the
BLAS environment before NumPy is loaded (see ``benchmarks.__main__``).
"""

#: (number, key, module) of every section, in report order.
SECTIONS = (
    (1, "python", "s1_python"),
    (2, "native", "s2_native"),
    (3, "vectorized", "s3_vectorized"),
    (4, "hessian", "s4_hessian"),
    (5, "losses", "s5_losses"),
    (6, "fit", "s6_fit"),
    (7, "memory", "s7_memory"),
    (8, "threads", "s8_threads"),
    (9, "softmax", "s9_softmax"),
    (10, "scale", "s10_scale"),
    (11, "sparse", "s11_sparse"),
    (12, "optimizers", "s12_optimizers"),
)
