"""Type stubs of ``fastgrad._optim``, one optimizer step compiled from ``src/_optim.pyx``
(the rules themselves are in ``src/_optim_rules.pxd``).

Keep in step with the ``def`` entry points there; ``tests/test_typing.py`` compares them.
"""
import numpy as np
import numpy.typing as npt

#: Optimizer ids by name: "gd", "momentum", "nesterov", "adagrad", "rmsprop", "adam".
KINDS: dict[str, int]

def step(kind: int, lr: float, mu: float, beta2: float, eps: float, t: int, clip: float,
         x: npt.NDArray[np.float64], g: npt.NDArray[np.float64],
         state: npt.NDArray[np.float64], out: npt.NDArray[np.float64]) -> bool: ...
