"""Type stubs of ``fastgrad._linear``, the loss and gradient-descent kernels compiled from
``src/_linear.pyx``.

Keep in step with the ``def`` entry points there; ``tests/test_typing.py`` compares the
names, parameters and defaults of both.  ``floating`` memoryviews accept C-contiguous
float32 or float64 buffers (one dtype per call); W is (d,) or (d, K) and y, W and the
sample weights are in X's dtype; b is a float or a (K,) float64 array.
"""
from collections.abc import Callable
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

_Floats: TypeAlias = npt.NDArray[np.float32] | npt.NDArray[np.float64]
_F64: TypeAlias = npt.NDArray[np.float64]
#: (loss, dW, db, all finite): dW shaped like W in X's dtype, db a float when b was one
#: (else a (K,) float64 array), both None when the gradient was not asked for
#: (``want_grad=False``); Any, since that depends on runtime values.
_LossGrad: TypeAlias = tuple[float, Any, Any, bool]

#: Loss ids by name: "mse", "logistic", "softmax".
LOSSES: dict[str, int]
GEMV_MIN_D: int
#: Final status of a fit by id: "converged", "max_epochs", "diverged", "stopped".
STATUS: dict[int, str]

def n_blocks(n: int, d: int, k: int = 1) -> int: ...
def block_sums(loss: str, X: _Floats, y: _Floats, sample_weight: _Floats | None,
               W: _Floats, b: float | _F64, nthreads: int = 1
               ) -> tuple[float, _F64, _F64, float]: ...
def loss_grad(loss: str, X: _Floats, y: _Floats, W: _Floats, b: float | _F64,
              sample_weight: _Floats | None, inv_sumw: float, l2: float,
              want_grad: bool = True, nthreads: int = 1) -> _LossGrad: ...
#: What ``value_fault`` finds wrong: None, "W", "b" or "y".
FAULTS: dict[int, str | None]

def value_fault(loss: str, y: _Floats, W: _Floats, b: _F64) -> int: ...
def loss_grad_fast(loss: str, X: object, y: object, w: object, b: object, l2: float,
                   want_grad: bool, nthreads: int) -> _LossGrad | None: ...
def fit(loss: str, X: _Floats, y: _Floats, sample_weight: _Floats | None, inv_sumw: float,
        W: _Floats, b: float | _F64, lr: float, epochs: int, max_norm: float, tol: float,
        l2: float, fit_intercept: bool, chunk: int, nthreads: int,
        progress: Callable[[int, float, npt.NDArray[Any], Any], object] | None = None,
        rule: tuple[int, float, float, float] = (0, 0.0, 0.0, 1.0), batch_size: int = 0,
        rng: np.random.Generator | None = None, n_iter_no_change: int = 5,
        recount: Callable[[], int] | None = None
        ) -> tuple[Any, npt.NDArray[np.float64], int, float, str]: ...
