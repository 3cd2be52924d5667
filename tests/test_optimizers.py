"""The optimizers of fastgrad.optimizers in gradient_descent: their iterates equal a plain
NumPy implementation of each documented rule and PyTorch's torch.optim; clipping comes
before the step; divergence stops the run; bad settings are rejected."""
from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from fastgrad import gradient_descent
from fastgrad.optimizers import GD, AdaGrad, Adam, Momentum, RMSProp

#: Every optimizer, with settings other than the defaults where that shows more.
OPTIMIZERS = {
    "gd": GD(),
    "momentum": Momentum(momentum=0.8),
    "nesterov": Momentum(momentum=0.7, nesterov=True),
    "adagrad": AdaGrad(eps=1e-3),
    "rmsprop": RMSProp(decay=0.9, eps=1e-4),
    "adam": Adam(beta1=0.8, beta2=0.95, eps=1e-6),
}
NAMES = ["gd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"]


class Reference:
    """The documented update rules in plain NumPy (PyTorch's documentation of
    torch.optim.SGD, Adagrad, RMSprop and Adam), one step at a time."""

    def __init__(self, opt, lr: float, shape) -> None:
        self.opt, self.lr, self.t = opt, lr, 0
        self.m = np.zeros(shape)
        self.v = np.zeros(shape)

    def step(self, x: np.ndarray, g: np.ndarray, max_norm: float | None = None) -> np.ndarray:
        opt, lr = self.opt, self.lr
        self.t += 1
        norm = np.sqrt(np.sum(g * g))
        c = max_norm / norm if max_norm is not None and norm > max_norm else 1.0
        if isinstance(opt, GD):
            return x - (lr * c) * g
        g = g * c
        if isinstance(opt, Momentum):
            self.m = g.copy() if self.t == 1 else opt.momentum * self.m + g
            d = g + opt.momentum * self.m if opt.nesterov else self.m
            return x - lr * d
        if isinstance(opt, AdaGrad):
            self.v = self.v + g ** 2
            return x - lr * g / (np.sqrt(self.v) + opt.eps)
        if isinstance(opt, RMSProp):
            self.v = opt.decay * self.v + (1 - opt.decay) * g ** 2
            return x - lr * g / (np.sqrt(self.v) + opt.eps)
        assert isinstance(opt, Adam)
        self.m = opt.beta1 * self.m + (1 - opt.beta1) * g
        self.v = opt.beta2 * self.v + (1 - opt.beta2) * g ** 2
        m_hat = self.m / (1 - opt.beta1 ** self.t)
        v_hat = self.v / (1 - opt.beta2 ** self.t)
        return x - lr * m_hat / (np.sqrt(v_hat) + opt.eps)


def torch_optimizer(torch, opt, params, lr: float):
    """The torch.optim optimizer PyTorch's documentation gives for opt."""
    if isinstance(opt, GD):
        return torch.optim.SGD(params, lr=lr)
    if isinstance(opt, Momentum):
        return torch.optim.SGD(params, lr=lr, momentum=opt.momentum, dampening=0,
                               nesterov=opt.nesterov)
    if isinstance(opt, AdaGrad):
        return torch.optim.Adagrad(params, lr=lr, eps=opt.eps)
    if isinstance(opt, RMSProp):
        return torch.optim.RMSprop(params, lr=lr, alpha=opt.decay, eps=opt.eps)
    return torch.optim.Adam(params, lr=lr, betas=(opt.beta1, opt.beta2), eps=opt.eps)


# A convex quadratic 0.5 x'Ax - b'x whose iterates stay away from zero for a few steps.
A = np.array([[3.0, 0.5, 0.2], [0.5, 2.0, -0.3], [0.2, -0.3, 1.0]])
B = np.array([1.0, -2.0, 0.5])
X0 = np.array([4.0, 3.0, -2.5])


def quad(x):
    return float(0.5 * x @ A @ x - B @ x)


def quad_grad(x):
    return A @ x - B


def run(opt, lr=0.05, epochs=6, max_norm=None, x0=X0):
    """gradient_descent's iterates x_1..x_epochs, collected by a callback."""
    seen: list[np.ndarray] = []
    res = gradient_descent(quad, x0, grad=quad_grad, lr=lr, epochs=epochs, max_norm=max_norm,
                           optimizer=opt, callback=seen.append)
    assert res.n_iter == epochs
    assert_array_equal(res.x, seen[-1])
    return np.array(seen)


def reference(opt, lr=0.05, epochs=6, max_norm=None, x0=X0):
    ref = Reference(opt, lr, x0.shape)
    x, out = x0.copy(), []
    for _ in range(epochs):
        x = ref.step(x, quad_grad(x), max_norm)
        out.append(x)
    return np.array(out)


def assert_close(actual, expected, rtol=1e-12):
    """Equal to rtol relative to the largest entry (iterates may pass near zero)."""
    assert_allclose(actual, expected, rtol=rtol, atol=rtol * np.max(np.abs(expected)))


class TestAgainstNumPy:
    @pytest.mark.parametrize("name", NAMES)
    def test_iterates_equal_the_documented_rule(self, name):
        assert_close(run(OPTIMIZERS[name]), reference(OPTIMIZERS[name]))

    @pytest.mark.parametrize("name", NAMES)
    def test_default_settings_by_name(self, name):
        defaults = {"gd": GD(), "momentum": Momentum(), "nesterov": Momentum(nesterov=True),
                    "adagrad": AdaGrad(), "rmsprop": RMSProp(), "adam": Adam()}
        assert_close(run(name), reference(defaults[name]))

    @pytest.mark.parametrize("name", NAMES)
    def test_clipped_iterates_equal_the_rule_on_the_clipped_gradient(self, name):
        # ||grad|| at X0 is about 14: every step is clipped
        expected = reference(OPTIMIZERS[name], max_norm=0.5)
        assert_close(run(OPTIMIZERS[name], max_norm=0.5), expected)
        # and clipping changed the run (the clip is applied before the step)
        assert not np.allclose(expected, reference(OPTIMIZERS[name]), rtol=1e-6)

    def test_gd_is_bitwise_the_plain_step(self):
        x, expected = X0.copy(), []
        for _ in range(6):
            g = quad_grad(x)
            n = float(np.linalg.norm(g))
            x = x - (0.05 * (2.0 / n if n > 2.0 else 1.0)) * g
            expected.append(x)
        assert_array_equal(run("gd", max_norm=2.0), np.array(expected))

    def test_default_optimizer_is_gd(self):
        a = gradient_descent(quad, X0, grad=quad_grad, lr=0.05, epochs=20)
        b = gradient_descent(quad, X0, grad=quad_grad, lr=0.05, epochs=20, optimizer=GD())
        assert_array_equal(a.x, b.x)
        assert_array_equal(a.loss_history, b.loss_history)

    def test_state_starts_at_zero_in_each_run(self):
        opt = Adam()
        assert_array_equal(run(opt), run(opt))


class TestAgainstTorch:
    @pytest.mark.parametrize("name", NAMES)
    def test_iterates_equal_torch_optim(self, name):
        torch = pytest.importorskip("torch")
        p = torch.tensor(X0.copy(), dtype=torch.float64, requires_grad=True)
        opt = torch_optimizer(torch, OPTIMIZERS[name], [p], lr=0.05)
        At = torch.tensor(A)
        Bt = torch.tensor(B)
        out = []
        for _ in range(6):
            opt.zero_grad()
            loss = 0.5 * p @ At @ p - Bt @ p
            loss.backward()
            opt.step()
            out.append(p.detach().numpy().copy())
        assert_close(run(OPTIMIZERS[name]), np.array(out))

    @pytest.mark.parametrize("name", NAMES)
    def test_clipped_iterates_equal_torch_with_its_clip_factor(self, name):
        # clip_grad_norm_ scales by max_norm / (norm + 1e-6): the same step is taken by
        # the rule with that clip factor, which fastgrad applies for max_norm' =
        # max_norm * norm / (norm + 1e-6) on the first step; after one step compare the
        # NumPy reference (which the other tests tie to fastgrad) with torch directly.
        torch = pytest.importorskip("torch")
        p = torch.tensor(X0.copy(), dtype=torch.float64, requires_grad=True)
        opt = torch_optimizer(torch, OPTIMIZERS[name], [p], lr=0.05)
        ref = Reference(OPTIMIZERS[name], 0.05, X0.shape)
        x = X0.copy()
        for _ in range(6):
            opt.zero_grad()
            (0.5 * p @ torch.tensor(A) @ p - torch.tensor(B) @ p).backward()
            torch.nn.utils.clip_grad_norm_([p], max_norm=0.5)
            opt.step()
            g = quad_grad(x)
            norm = float(np.linalg.norm(g))
            x = ref.step(x, g, max_norm=0.5 * norm / (norm + 1e-6))
            assert_close(x, p.detach().numpy())


class TestStatus:
    @pytest.mark.parametrize("name", NAMES)
    def test_divergence_stops_with_the_last_finite_point(self, name):
        seen: list[np.ndarray] = []
        with pytest.warns(RuntimeWarning, match="diverged"), np.errstate(over="ignore"):
            res = gradient_descent(lambda v: float(v @ v), [1.0, -1.0], grad=lambda v: 2 * v,
                                   lr=1e300, epochs=50, optimizer=name,
                                   callback=seen.append)
        assert res.status == "diverged" and not res.converged
        assert np.all(np.isfinite(res.x))
        assert_array_equal(res.x, seen[-1] if seen else [1.0, -1.0])
        assert res.n_iter == len(seen) < 50

    @pytest.mark.parametrize("name", NAMES)
    def test_an_update_to_a_non_finite_point_is_not_applied(self, name):
        # the first step from x0 = 1 would reach about -1e308 * 2 (gd, momentum) or stays
        # finite (lr-sized steps); either way no returned x is non-finite
        with pytest.warns(RuntimeWarning, match="diverged"), np.errstate(over="ignore"):
            res = gradient_descent(lambda v: float(v[0] * v[0]), [1.0], grad=lambda v: 2 * v,
                                   lr=1.5e308, epochs=10, optimizer=name)
        assert res.status == "diverged" and np.all(np.isfinite(res.x))
        if name in ("gd", "momentum", "nesterov"):
            assert res.n_iter == 0 and res.x.tolist() == [1.0]

    @pytest.mark.parametrize("name", NAMES)
    def test_each_optimizer_converges_on_the_quadratic(self, name):
        lr = {"adagrad": 1.0, "rmsprop": 0.01, "adam": 0.01}.get(name, 0.05)
        res = gradient_descent(quad, X0, grad=quad_grad, lr=lr, epochs=20000, tol=1e-8,
                               optimizer=name)   # default settings
        assert res.converged
        assert_allclose(res.x, np.linalg.solve(A, B), atol=1e-7)


class TestBadInput:
    def test_unknown_name_lists_the_known_ones(self):
        with pytest.raises(ValueError, match="`optimizer`") as info:
            gradient_descent(quad, X0, grad=quad_grad, optimizer="sgd")
        for name in NAMES:
            assert repr(name) in str(info.value)

    @pytest.mark.parametrize("value", [None, 3, torch_optimizer, GD, ("adam",)])
    def test_other_types_are_a_type_error(self, value):
        with pytest.raises(TypeError, match="`optimizer`"):
            gradient_descent(quad, X0, grad=quad_grad, optimizer=value)

    @pytest.mark.parametrize("value", [1.0, -0.1, 1.5, float("nan"), float("inf")])
    def test_momentum_outside_unit_interval(self, value):
        with pytest.raises(ValueError, match="`momentum`"):
            Momentum(momentum=value)

    @pytest.mark.parametrize("value", ["0.9", True, None, [0.9]])
    def test_momentum_not_a_number(self, value):
        with pytest.raises(TypeError, match="`momentum`"):
            Momentum(momentum=value)

    def test_nesterov_needs_momentum(self):
        with pytest.raises(ValueError, match="`nesterov`"):
            Momentum(momentum=0.0, nesterov=True)
        assert Momentum(momentum=0.0).momentum == 0.0

    def test_nesterov_must_be_bool(self):
        with pytest.raises(TypeError, match="`nesterov`"):
            Momentum(nesterov=1)

    @pytest.mark.parametrize("value", [1.0, -0.01, 2.0])
    def test_decay_outside_unit_interval(self, value):
        with pytest.raises(ValueError, match="`decay`"):
            RMSProp(decay=value)

    @pytest.mark.parametrize(("name", "value"), [("beta1", 1.0), ("beta1", -0.5),
                                                 ("beta2", 1.0), ("beta2", 1.1)])
    def test_betas_outside_unit_interval(self, name, value):
        with pytest.raises(ValueError, match=f"`{name}`"):
            Adam(**{name: value})

    @pytest.mark.parametrize("cls", [AdaGrad, RMSProp, Adam])
    @pytest.mark.parametrize("value", [0.0, -1e-8, float("nan")])
    def test_eps_must_be_positive(self, cls, value):
        with pytest.raises(ValueError, match="`eps`"):
            cls(eps=value)

    def test_objects_are_frozen(self):
        opt = Adam()
        with pytest.raises(AttributeError):
            opt.beta1 = 0.5  # type: ignore[misc]

    def test_settings_are_stored_as_floats(self):
        assert Momentum(momentum=np.float32(0.5)) == Momentum(momentum=0.5)
        assert type(Adam(beta1=0).beta1) is float
