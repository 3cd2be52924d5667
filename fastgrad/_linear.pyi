"""Type stubs of ``fastgrad._linear``, the loss and gradient-descent kernels compiled from
``src/_linear.pyx``.

Keep in step with the ``def`` entry points there; ``tests/test_typing.py`` compares the
names, parameters and defaults of both.  ``floating`` memoryviews accept C-contiguous
float32 or float64 buffers (one dtype per call); ``dw`` comes back in X's dtype.
"""
from collections.abc import Callable
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

_Floats: TypeAlias = npt.NDArray[np.float32] | npt.NDArray[np.float64]
#: (loss, dw, db): dw an array in X's dtype and db a float, both None when the gradient
#: was not asked for (``want_grad=False``); Any, since that depends on a runtime bool.
_LossGrad: TypeAlias = tuple[float, Any, Any, bool]  # loss, dw, db, all finite

#: Loss ids by name: "mse", "logistic".
LOSSES: dict[str, int]
#: Final status of a fit by id: "converged", "max_epochs", "diverged", "stopped".
STATUS: dict[int, str]

def n_blocks(n: int, d: int) -> int: ...
def loss_grad(loss: str, X: _Floats, y: _Floats, w: _Floats, b: float,
              sample_weight: _Floats | None, inv_sumw: float, l2: float,
              want_grad: bool = True, nthreads: int = 1) -> _LossGrad: ...
def loss_grad_fast(loss: str, X: object, y: object, w: object, b: object, l2: float,
                   want_grad: bool, nthreads: int) -> _LossGrad | None: ...
def fit(loss: str, X: _Floats, y: _Floats, sample_weight: _Floats | None, inv_sumw: float,
        w: _Floats, b: float, lr: float, epochs: int, max_norm: float, tol: float, l2: float,
        fit_intercept: bool, chunk: int, nthreads: int,
        progress: Callable[[int, float, npt.NDArray[Any], float], object] | None = None
        ) -> tuple[float, npt.NDArray[np.float64], int, float, str]: ...
