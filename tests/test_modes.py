"""Tests of the evaluation modes: native C objectives, vectorized f, workers (threads,
process pools, map-likes, a Dask cluster), the complex step, order 6, full_output error
estimates, h="adaptive" and bounds.

References are closed forms, ``scipy.optimize.rosen``/``rosen_der``/``rosen_hess``, and the
plain serial Python path, which every mode must reproduce bitwise (``np.array_equal``).
Native objectives are built here: a numba ``cfunc`` and a small C library compiled with the
system compiler and loaded with ctypes; each has a Python twin that performs the same
floating-point operations in the same order (``math.sin``/``math.exp`` call the same libm).
"""
import ctypes
import functools
import json
import math
import shutil
import subprocess
import sys
import textwrap
import threading
from concurrent.futures import ThreadPoolExecutor
from multiprocessing import Pool

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy import LowLevelCallable
from scipy.optimize import rosen, rosen_der, rosen_hess

from fastgrad import (
    DerivativeResult,
    directional_derivative,
    hessian,
    jacobian,
    numerical_gradient,
    partial_derivative,
)

#: Largest block of points one vectorized call may receive (documented: 16 MiB).
CHUNK_BYTES = 16 * 2**20


# ================================================================ functions and references
def rosen_loop(x):
    """Rosenbrock with the exact operation order of the C and numba versions."""
    s = 0.0
    for i in range(x.shape[0] - 1):
        a = x[i + 1] - x[i] * x[i]
        b = 1.0 - x[i]
        s += 100.0 * a * a + b * b
    return s


def sinexp_loop(x):
    """sum(sin(x_i) exp(x_i / 3)) with libm, in the order of the C and numba versions."""
    s = 0.0
    for v in x:
        v = float(v)
        s += math.sin(v) * math.exp(v / 3.0)
    return s


def scaled_loop(x, c):
    """sum(sin(c x_i) x_i), the Python twin of the C function reading c through user_data."""
    s = 0.0
    for v in x:
        v = float(v)
        s += math.sin(c * v) * v
    return s


def sinexp(x):
    return np.sum(np.sin(x) * np.exp(x / 3))


def sinexp_grad(x):
    return np.exp(x / 3) * (np.cos(x) + np.sin(x) / 3)


def sinexp_hess(x):
    return np.diag(np.exp(x / 3) * (-8.0 / 9.0 * np.sin(x) + 2.0 / 3.0 * np.cos(x)))


def xy(v):
    """x^2 y + e^(xy)."""
    return v[0] ** 2 * v[1] + np.exp(v[0] * v[1])


def xy_grad(v):
    x, y = v
    e = np.exp(x * y)
    return np.array([2 * x * y + y * e, x * x + x * e])


def xy_hess(v):
    x, y = v
    e = np.exp(x * y)
    c = 2 * x + e + x * y * e
    return np.array([[2 * y + y * y * e, c], [c, x * x * e]])


def poly(v):
    a, b, c = v
    return a ** 3 - 2 * a * b ** 2 + 0.5 * c ** 4 + b * c


def poly_grad(v):
    a, b, c = v
    return np.array([3 * a * a - 2 * b * b, -4 * a * b + c, 2 * c ** 3 + b])


def poly_hess(v):
    a, b, c = v
    return np.array([[6 * a, -4 * b, 0.0], [-4 * b, -4 * a, 1.0], [0.0, 1.0, 6 * c * c]])


def explog(v):
    a, b = v
    return np.exp(a) * np.log(b) + np.log(1 + a * a) * b


def explog_grad(v):
    a, b = v
    return np.array([np.exp(a) * np.log(b) + 2 * a / (1 + a * a) * b,
                     np.exp(a) / b + np.log(1 + a * a)])


def explog_hess(v):
    a, b = v
    off = np.exp(a) / b + 2 * a / (1 + a * a)
    return np.array([[np.exp(a) * np.log(b) + 2 * b * (1 - a * a) / (1 + a * a) ** 2, off],
                     [off, -np.exp(a) / b ** 2]])


def vec3(v):
    """R^3 -> R^4, module level so that process pools can pickle it."""
    a, b, c = v
    return np.array([a * a * b, np.exp(a * c), np.log(b) + c ** 3, np.sin(a) * b])


def vec3_jac(v):
    a, b, c = v
    return np.array([[2 * a * b, a * a, 0.0],
                     [c * np.exp(a * c), 0.0, a * np.exp(a * c)],
                     [0.0, 1 / b, 3 * c * c],
                     [np.cos(a) * b, np.sin(a), 0.0]])


def vec3_rows(X):
    """vec3 on each row of a (k, 3) array, returning (k, 4)."""
    a, b, c = X[:, 0], X[:, 1], X[:, 2]
    return np.stack([a * a * b, np.exp(a * c), np.log(b) + c ** 3, np.sin(a) * b], axis=1)


def rosen_rows(X):
    """scipy's rosen on each row of a (k, n) array (same operations, same order)."""
    return np.sum(100.0 * (X[:, 1:] - X[:, :-1] ** 2.0) ** 2.0 + (1 - X[:, :-1]) ** 2.0, axis=1)


def shifted_sumsq(x, shift):
    """Module level, with an extra argument, for process pools."""
    return float(np.sum((x - shift) ** 2 * np.arange(1, x.shape[0] + 1)))


def rel_err(value, exact):
    """Norm-wise relative error max|value - exact| / max|exact|."""
    return float(np.max(np.abs(value - exact)) / np.max(np.abs(exact)))


class Recorder:
    """f wrapped to keep a copy of every point it was called with (thread-safe)."""

    def __init__(self, f):
        self.f = f
        self.points = []
        self._lock = threading.Lock()

    def __call__(self, x, *args):
        with self._lock:
            self.points.append(np.array(x, copy=True))
        return self.f(x, *args)

    @property
    def calls(self):
        return len(self.points)


RNG_POINTS = np.random.default_rng(20240601).uniform(-2.0, 2.0, size=(10, 10))
X5 = np.array([1.3, 0.7, 0.8, 1.9, 1.2])
X4 = np.array([0.5, -1.0, 2.0, 3.0])
X3 = np.array([0.5, 2.0, 1.0])


# ================================================================ native test callables
C_SOURCE = r"""
#include <math.h>

double rosen_c(int n, double *x) {
    double s = 0.0;
    for (int i = 0; i < n - 1; i++) {
        double a = x[i + 1] - x[i] * x[i];
        double b = 1.0 - x[i];
        s += 100.0 * a * a + b * b;
    }
    return s;
}

double sinexp_c(int n, double *x) {
    double s = 0.0;
    for (int i = 0; i < n; i++) s += sin(x[i]) * exp(x[i] / 3.0);
    return s;
}

double scaled_c(int n, double *x, void *user_data) {
    double c = *(double *)user_data, s = 0.0;
    for (int i = 0; i < n; i++) s += sin(c * x[i]) * x[i];
    return s;
}

double wrong_order_c(double *x, int n) { return x[0] * n; }
"""


@pytest.fixture(scope="module")
def clib(tmp_path_factory):
    """The C functions above, compiled into a shared library and loaded with ctypes."""
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is None:
        pytest.skip("no C compiler")
    d = tmp_path_factory.mktemp("native")
    (d / "f.c").write_text(C_SOURCE)
    # No FMA contraction: the twins in Python round every product separately.
    subprocess.run([cc, "-shared", "-fPIC", "-O2", "-ffp-contract=off", "-o",
                    str(d / "libf.so"), str(d / "f.c"), "-lm"], check=True)
    lib = ctypes.CDLL(str(d / "libf.so"))
    for name in ("rosen_c", "sinexp_c"):
        fn = getattr(lib, name)
        fn.argtypes = [ctypes.c_int, ctypes.POINTER(ctypes.c_double)]
        fn.restype = ctypes.c_double
    lib.scaled_c.argtypes = [ctypes.c_int, ctypes.POINTER(ctypes.c_double), ctypes.c_void_p]
    lib.scaled_c.restype = ctypes.c_double
    lib.wrong_order_c.argtypes = [ctypes.POINTER(ctypes.c_double), ctypes.c_int]
    lib.wrong_order_c.restype = ctypes.c_double
    return lib


def with_user_data(lib, c):
    """scaled_c as a LowLevelCallable whose user_data points at the double c.

    The ctypes double is attached to the callable so that it outlives the call.
    """
    value = ctypes.c_double(c)
    llc = LowLevelCallable(lib.scaled_c,
                           user_data=ctypes.cast(ctypes.pointer(value), ctypes.c_void_p))
    return llc, value


def fresh_pointer(lib, name):
    """A new ctypes function-pointer object for ``lib.name``, never seen by fastgrad before."""
    proto = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_int, ctypes.POINTER(ctypes.c_double))
    return proto(ctypes.cast(getattr(lib, name), ctypes.c_void_p).value)


@pytest.fixture(scope="module")
def nb():
    """numba cfuncs of rosen and sinexp with the signature double (int, double *)."""
    numba = pytest.importorskip("numba")
    from numba import carray

    sig = "float64(intc, CPointer(float64))"

    @numba.cfunc(sig)
    def rosen_nb(n, xp):
        x = carray(xp, (n,))
        s = 0.0
        for i in range(n - 1):
            a = x[i + 1] - x[i] * x[i]
            b = 1.0 - x[i]
            s += 100.0 * a * a + b * b
        return s

    @numba.cfunc(sig)
    def sinexp_nb(n, xp):
        x = carray(xp, (n,))
        s = 0.0
        for i in range(n):
            s += math.sin(x[i]) * math.exp(x[i] / 3.0)
        return s

    @numba.cfunc("float64(float64)")
    def wrong_nb(a):
        return a

    return {"rosen": rosen_nb, "sinexp": sinexp_nb, "wrong": wrong_nb}


# ================================================================ helpers for crashes
@functools.cache
def _run_code(code):
    proc = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True,
                          text=True, timeout=120)
    return proc.returncode, proc.stdout, proc.stderr


def run_isolated(code):
    """Run ``code`` in a fresh interpreter and return the JSON it prints last.

    Used where fastgrad has been seen to crash the interpreter (segmentation fault): the
    crash then fails this one test instead of ending the whole test session.  Each
    distinct code runs once per session.
    """
    returncode, stdout, stderr = _run_code(textwrap.dedent(code))
    assert returncode == 0, f"interpreter exited with code {returncode}\n{stderr[-3000:]}"
    return json.loads(stdout.strip().splitlines()[-1])


# ======================================================================== TestNative
class TestNative:
    # -- numba cfunc -----------------------------------------------------------------
    def test_numba_gradient_matches_python_bitwise(self, nb):
        assert_array_equal(numerical_gradient(nb["rosen"], X5), numerical_gradient(rosen_loop, X5))

    def test_numba_gradient_with_libm_matches_python_bitwise(self, nb):
        assert_array_equal(numerical_gradient(nb["sinexp"], X4),
                           numerical_gradient(sinexp_loop, X4))

    def test_numba_gradient_is_close_to_closed_form(self, nb):
        assert rel_err(numerical_gradient(nb["rosen"], X5), rosen_der(X5)) < 1e-8

    def test_numba_partial_derivative_matches_python(self, nb):
        assert partial_derivative(nb["rosen"], X5, 2) == partial_derivative(rosen_loop, X5, 2)

    def test_numba_directional_derivative_matches_python(self, nb):
        d = np.array([1.0, -2.0, 0.5, 0.0, 3.0])
        assert (directional_derivative(nb["rosen"], X5, d)
                == directional_derivative(rosen_loop, X5, d))

    def test_numba_hessian_matches_python_bitwise(self, nb):
        assert_array_equal(hessian(nb["rosen"], X5), hessian(rosen_loop, X5))

    def test_numba_wrapped_in_low_level_callable_matches(self, nb):
        llc = LowLevelCallable(nb["rosen"].ctypes)
        assert_array_equal(numerical_gradient(llc, X5), numerical_gradient(nb["rosen"], X5))

    def test_numba_gradient_threads_bitwise_equal_to_serial(self, nb):
        x = RNG_POINTS[0]
        assert_array_equal(numerical_gradient(nb["sinexp"], x, workers=2),
                           numerical_gradient(nb["sinexp"], x))

    def test_numba_hessian_threads_bitwise_equal_to_serial(self, nb):
        x = RNG_POINTS[1]
        assert_array_equal(hessian(nb["rosen"], x, workers=2), hessian(nb["rosen"], x))

    def test_numba_all_cpus_bitwise_equal_to_serial(self, nb):
        x = RNG_POINTS[2]
        assert_array_equal(numerical_gradient(nb["rosen"], x, workers=-1),
                           numerical_gradient(nb["rosen"], x))

    def test_numba_order6_matches_python_bitwise(self, nb):
        assert_array_equal(numerical_gradient(nb["sinexp"], X4, order=6),
                           numerical_gradient(sinexp_loop, X4, order=6))

    def test_numba_forward_matches_python_bitwise(self, nb):
        assert_array_equal(numerical_gradient(nb["sinexp"], X4, method="forward"),
                           numerical_gradient(sinexp_loop, X4, method="forward"))

    def test_numba_wrong_signature_is_value_error_naming_f(self, nb):
        with pytest.raises(ValueError, match="`f`.*signature"):
            numerical_gradient(nb["wrong"], X5)

    # -- ctypes, compiled here --------------------------------------------------------
    def test_ctypes_gradient_matches_python_bitwise(self, clib):
        assert_array_equal(numerical_gradient(clib.rosen_c, X5), numerical_gradient(rosen_loop, X5))

    def test_ctypes_gradient_with_libm_matches_python_bitwise(self, clib):
        assert_array_equal(numerical_gradient(clib.sinexp_c, X4),
                           numerical_gradient(sinexp_loop, X4))

    def test_ctypes_partial_derivative_matches_python(self, clib):
        assert partial_derivative(clib.rosen_c, X5, -1) == partial_derivative(rosen_loop, X5, -1)

    def test_ctypes_directional_derivative_matches_python(self, clib):
        d = np.array([0.3, 1.0, -1.0, 2.0, 0.0])
        assert (directional_derivative(clib.rosen_c, X5, d)
                == directional_derivative(rosen_loop, X5, d))

    def test_ctypes_hessian_matches_python_bitwise(self, clib):
        assert_array_equal(hessian(clib.sinexp_c, X4), hessian(sinexp_loop, X4))

    def test_ctypes_gradient_threads_bitwise_equal_to_serial(self, clib):
        x = RNG_POINTS[3]
        assert_array_equal(numerical_gradient(clib.rosen_c, x, workers=2),
                           numerical_gradient(clib.rosen_c, x))

    def test_ctypes_hessian_threads_bitwise_equal_to_serial(self, clib):
        x = RNG_POINTS[4]
        assert_array_equal(hessian(clib.sinexp_c, x, workers=2), hessian(clib.sinexp_c, x))

    def test_ctypes_wrong_signature_is_value_error_naming_f(self, clib):
        with pytest.raises(ValueError, match="`f`.*signature"):
            numerical_gradient(clib.wrong_order_c, X5)

    # -- one native f used by several calls ---------------------------------------------
    def test_hessian_after_gradient_of_same_native_f_matches_python(self, clib):
        f = fresh_pointer(clib, "rosen_c")
        numerical_gradient(f, X5)
        assert_array_equal(hessian(f, X5), hessian(rosen_loop, X5))

    def test_directional_after_gradient_of_same_native_f_matches_python(self, clib):
        f = fresh_pointer(clib, "rosen_c")
        d = np.array([0.0, 1.0, 0.0, 0.0, 0.0])
        numerical_gradient(f, X5)
        assert directional_derivative(f, X5, d) == directional_derivative(rosen_loop, X5, d)

    def test_bounded_gradient_after_gradient_of_same_native_f_matches_python(self, clib):
        f = fresh_pointer(clib, "rosen_c")
        numerical_gradient(f, X5)
        assert_array_equal(numerical_gradient(f, X5, bounds=(0.7, 1.9)),
                           numerical_gradient(rosen_loop, X5, bounds=(0.7, 1.9)))

    def test_gradient_after_gradient_in_another_dimension_matches_python(self, clib):
        f = fresh_pointer(clib, "rosen_c")
        numerical_gradient(f, X5[:3])
        assert_array_equal(numerical_gradient(f, RNG_POINTS[0]),
                           numerical_gradient(rosen_loop, RNG_POINTS[0]))

    # -- user_data through scipy.LowLevelCallable ---------------------------------------
    def test_user_data_gradient_matches_python_bitwise(self, clib):
        llc, _keep = with_user_data(clib, 3.0)
        assert_array_equal(numerical_gradient(llc, X4),
                           numerical_gradient(lambda v: scaled_loop(v, 3.0), X4))

    def test_user_data_value_reaches_f(self, clib):
        llc2, _keep2 = with_user_data(clib, 2.0)
        assert_array_equal(numerical_gradient(llc2, X4),
                           numerical_gradient(lambda v: scaled_loop(v, 2.0), X4))

    def test_user_data_hessian_matches_python_bitwise(self, clib):
        llc, _keep = with_user_data(clib, 3.0)
        assert_array_equal(hessian(llc, X4), hessian(lambda v: scaled_loop(v, 3.0), X4))

    def test_user_data_partial_derivative_matches_python(self, clib):
        llc, _keep = with_user_data(clib, 3.0)
        assert partial_derivative(llc, X4, 1) == partial_derivative(
            lambda v: scaled_loop(v, 3.0), X4, 1)

    def test_user_data_directional_derivative_matches_python(self, clib):
        llc, _keep = with_user_data(clib, 3.0)
        d = np.array([1.0, 1.0, -1.0, 0.5])
        assert directional_derivative(llc, X4, d) == directional_derivative(
            lambda v: scaled_loop(v, 3.0), X4, d)

    def test_user_data_threads_bitwise_equal_to_serial(self, clib):
        llc, _keep = with_user_data(clib, 3.0)
        x = RNG_POINTS[5]
        assert_array_equal(numerical_gradient(llc, x, workers=2), numerical_gradient(llc, x))

    # -- native forms read through their public attributes ----------------------------
    def test_low_level_callable_of_capsules_matches_python_bitwise(self, clib):
        # function and user_data both given as PyCapsules (as Cython's __pyx_capi__ has them)
        new = ctypes.pythonapi.PyCapsule_New
        new.restype, new.argtypes = ctypes.py_object, [ctypes.c_void_p, ctypes.c_char_p,
                                                       ctypes.c_void_p]
        value = ctypes.c_double(3.0)
        fcap = new(ctypes.cast(clib.scaled_c, ctypes.c_void_p).value,
                   b"double (int, double *, void *)", None)
        ucap = new(ctypes.addressof(value), None, None)
        llc = LowLevelCallable(fcap, ucap)
        assert_array_equal(numerical_gradient(llc, X4),
                           numerical_gradient(lambda v: scaled_loop(v, 3.0), X4))

    def test_low_level_callable_wrapping_one_with_user_data(self, clib):
        llc, _keep = with_user_data(clib, 2.0)
        assert_array_equal(numerical_gradient(LowLevelCallable(llc), X4),
                           numerical_gradient(lambda v: scaled_loop(v, 2.0), X4))

    class Compiled:
        """Not numba's class, but with the attributes numba documents for a cfunc."""

        def __init__(self, fn, shift=0):
            self.ctypes = fn
            self.address = ctypes.cast(fn, ctypes.c_void_p).value + shift

    def test_cfunc_recognised_by_address_and_ctypes(self, clib):
        f = self.Compiled(clib.rosen_c)
        assert_array_equal(numerical_gradient(f, X5), numerical_gradient(rosen_loop, X5))

    def test_address_that_is_not_the_ctypes_function_is_not_native(self, clib):
        f = self.Compiled(clib.rosen_c, shift=8)
        with pytest.raises(TypeError, match="`f` must be callable"):
            numerical_gradient(f, X5)

    # -- errors --------------------------------------------------------------------
    def test_native_with_args_is_value_error(self, clib):
        with pytest.raises(ValueError, match="`args`"):
            numerical_gradient(clib.rosen_c, X5, args=(1.0,))

    def test_native_hessian_with_args_is_value_error(self, clib):
        with pytest.raises(ValueError, match="`args`"):
            hessian(clib.rosen_c, X5, args=(1.0,))

    def test_native_with_vectorized_is_value_error(self, clib):
        with pytest.raises(ValueError, match="vectorized"):
            numerical_gradient(clib.rosen_c, X5, vectorized=True)

    def test_native_hessian_with_vectorized_is_value_error(self, clib):
        with pytest.raises(ValueError, match="vectorized"):
            hessian(clib.rosen_c, X5, vectorized=True)

    def test_native_with_map_like_workers_is_value_error(self, clib):
        with ThreadPoolExecutor(2) as ex, pytest.raises(ValueError, match="`workers`"):
            numerical_gradient(clib.rosen_c, X5, workers=ex.map)

    def test_native_jacobian_is_type_error_naming_f(self, clib):
        with pytest.raises(TypeError, match="`f`"):
            jacobian(clib.rosen_c, X5)

    def test_native_complex_step_is_value_error(self, clib):
        with pytest.raises(ValueError, match="complex"):
            numerical_gradient(clib.rosen_c, X5, method="complex")


# ======================================================================== TestVectorized
class TestVectorized:
    def test_gradient_bitwise_equal_to_pointwise(self):
        x = RNG_POINTS[0]
        assert_array_equal(numerical_gradient(rosen_rows, x, vectorized=True),
                           numerical_gradient(rosen, x))

    def test_gradient_f_receives_2d_rows_of_length_n(self):
        rec = Recorder(rosen_rows)
        numerical_gradient(rec, X5, vectorized=True)
        assert all(p.ndim == 2 and p.shape[1] == 5 for p in rec.points)

    def test_gradient_takes_one_call_for_small_n(self):
        rec = Recorder(rosen_rows)
        numerical_gradient(rec, X5, vectorized=True)
        assert rec.calls == 1

    def test_gradient_evaluates_2n_points(self):
        rec = Recorder(rosen_rows)
        numerical_gradient(rec, X5, vectorized=True)
        assert sum(p.shape[0] for p in rec.points) == 10

    def test_forward_gradient_bitwise_equal_to_pointwise(self):
        assert_array_equal(numerical_gradient(rosen_rows, X5, vectorized=True, method="forward"),
                           numerical_gradient(rosen, X5, method="forward"))

    def test_order6_gradient_bitwise_equal_to_pointwise(self):
        assert_array_equal(numerical_gradient(rosen_rows, X5, vectorized=True, order=6),
                           numerical_gradient(rosen, X5, order=6))

    def test_args_are_passed_to_f(self):
        g = numerical_gradient(lambda X, s: np.sum((X - s) ** 2, axis=1), X3, args=(1.0,),
                               vectorized=True)
        assert_array_equal(g, numerical_gradient(lambda v, s: np.sum((v - s) ** 2), X3, args=(1.0,)))

    def test_jacobian_bitwise_equal_to_pointwise(self):
        assert_array_equal(jacobian(vec3_rows, X3, vectorized=True), jacobian(vec3, X3))

    def test_jacobian_has_shape_m_by_n(self):
        assert jacobian(vec3_rows, X3, vectorized=True).shape == (4, 3)

    def test_jacobian_of_scalar_rows_is_gradient(self):
        assert_array_equal(jacobian(rosen_rows, X5, vectorized=True), jacobian(rosen, X5))

    def test_hessian_bitwise_equal_to_pointwise(self):
        x = RNG_POINTS[1]
        assert_array_equal(hessian(rosen_rows, x, vectorized=True), hessian(rosen, x))

    def test_hessian_with_vectorized_grad_bitwise_equal_to_pointwise(self):
        def grad_rows(X):
            return np.array([rosen_der(r) for r in X])
        assert_array_equal(hessian(None, X5, grad=grad_rows, vectorized=True),
                           hessian(None, X5, grad=rosen_der))

    def test_chunks_stay_under_16_mib(self):
        n = 1500  # 2n points of n doubles = 36 MB: at least three chunks
        rec = Recorder(lambda X: np.sum(X * X, axis=1))
        numerical_gradient(rec, np.linspace(-1.0, 1.0, n), vectorized=True)
        assert max(p.nbytes for p in rec.points) <= CHUNK_BYTES

    def test_chunked_gradient_bitwise_equal_to_pointwise(self):
        n = 1500
        x = np.linspace(-1.0, 1.0, n)
        g = numerical_gradient(lambda X: np.sum(X * X * X, axis=1), x, vectorized=True)
        assert_array_equal(g, numerical_gradient(lambda v: np.sum(v * v * v), x))

    def test_wrong_output_shape_is_value_error(self):
        with pytest.raises(ValueError, match="shape"):
            numerical_gradient(lambda X: np.sum(X), X5, vectorized=True)


# ======================================================================== TestWorkers
@pytest.fixture(scope="module")
def dask_map():
    """map of a Dask executor on a two-process LocalCluster, shared by the module."""
    pytest.importorskip("distributed")
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           dashboard_address=None)
    client = Client(cluster)
    try:
        yield client.get_executor().map
    finally:
        client.close()
        cluster.close()


@pytest.fixture(scope="module")
def thread_map():
    with ThreadPoolExecutor(3) as ex:
        yield ex.map


@pytest.fixture(scope="module")
def pool_map():
    with Pool(2) as pool:
        yield pool.map


BAD_RETURNS = {"str": "x", "none": None, "text_array": np.array(["a"]),
               "complex": 1 + 2j, "vector": np.ones(2), "object": object()}


class TestOneRuleForWhatFReturns:
    """What f returns is checked by one rule, whichever mode evaluates f: the kernel
    calling f itself and a map-like evaluating the points raise the same error."""

    @pytest.mark.parametrize("bad", BAD_RETURNS.values(), ids=BAD_RETURNS.keys())
    def test_direct_and_map_like_raise_the_same_error(self, bad, thread_map):
        x = np.array([0.5, 1.5])
        assert numerical_gradient(lambda v: float(v @ v), x, workers=thread_map).shape == (2,)
        errors = []
        for workers in (None, thread_map):
            with pytest.raises((TypeError, ValueError)) as info:
                numerical_gradient(lambda v, r=bad: r, x, workers=workers)
            errors.append((type(info.value), str(info.value)))
        assert errors[0] == errors[1]
        assert "`f` must return" in errors[0][1]

    def test_huge_python_int_is_a_real_number_in_every_mode(self, thread_map):
        x = np.array([0.5, 1.5])
        with pytest.warns(RuntimeWarning, match="non-finite"):
            direct = numerical_gradient(lambda v: 10**400, x)
        with pytest.warns(RuntimeWarning, match="non-finite"):
            mapped = numerical_gradient(lambda v: 10**400, x, workers=thread_map)
        assert_array_equal(direct, mapped)


class TestWorkers:
    # -- process pool (int) ------------------------------------------------------
    def test_process_pool_gradient_bitwise_equal_to_serial(self):
        x = RNG_POINTS[0]
        assert_array_equal(numerical_gradient(rosen, x, workers=2), numerical_gradient(rosen, x))

    def test_process_pool_jacobian_bitwise_equal_to_serial(self):
        assert_array_equal(jacobian(vec3, X3, workers=2), jacobian(vec3, X3))

    def test_process_pool_hessian_bitwise_equal_to_serial(self):
        assert_array_equal(hessian(rosen, X5, workers=2), hessian(rosen, X5))

    def test_process_pool_passes_args(self):
        assert_array_equal(numerical_gradient(shifted_sumsq, X4, args=(0.5,), workers=2),
                           numerical_gradient(shifted_sumsq, X4, args=(0.5,)))

    def test_all_cpus_bitwise_equal_to_serial(self):
        assert_array_equal(numerical_gradient(rosen, X5, workers=-1), numerical_gradient(rosen, X5))

    # -- multiprocessing.Pool.map ------------------------------------------------------
    def test_pool_map_gradient_bitwise_equal_to_serial(self, pool_map):
        x = RNG_POINTS[1]
        assert_array_equal(numerical_gradient(rosen, x, workers=pool_map),
                           numerical_gradient(rosen, x))

    def test_pool_map_jacobian_bitwise_equal_to_serial(self, pool_map):
        assert_array_equal(jacobian(vec3, X3, workers=pool_map), jacobian(vec3, X3))

    def test_pool_map_hessian_bitwise_equal_to_serial(self, pool_map):
        assert_array_equal(hessian(rosen, X5, workers=pool_map), hessian(rosen, X5))

    # -- ThreadPoolExecutor.map --------------------------------------------------------
    def test_thread_map_gradient_bitwise_equal_to_serial(self, thread_map):
        x = RNG_POINTS[2]
        assert_array_equal(numerical_gradient(rosen, x, workers=thread_map),
                           numerical_gradient(rosen, x))

    def test_thread_map_jacobian_bitwise_equal_to_serial(self, thread_map):
        assert_array_equal(jacobian(vec3, X3, workers=thread_map), jacobian(vec3, X3))

    def test_thread_map_hessian_bitwise_equal_to_serial(self, thread_map):
        assert_array_equal(hessian(rosen, X5, workers=thread_map), hessian(rosen, X5))

    def test_thread_map_hessian_with_grad_bitwise_equal_to_serial(self, thread_map):
        assert_array_equal(hessian(None, X5, grad=rosen_der, workers=thread_map),
                           hessian(None, X5, grad=rosen_der))

    def test_thread_map_order6_bitwise_equal_to_serial(self, thread_map):
        assert_array_equal(numerical_gradient(sinexp, X4, order=6, workers=thread_map),
                           numerical_gradient(sinexp, X4, order=6))

    def test_thread_map_adaptive_bitwise_equal_to_serial(self, thread_map):
        assert_array_equal(numerical_gradient(sinexp, X4, h="adaptive", workers=thread_map),
                           numerical_gradient(sinexp, X4, h="adaptive"))

    def test_exception_in_f_propagates_through_map(self, thread_map):
        def boom(x):
            raise KeyError("inside f")
        with pytest.raises(KeyError, match="inside f"):
            numerical_gradient(boom, X3, workers=thread_map)

    def test_map_returning_too_few_results_is_value_error(self):
        def short_map(fun, items):
            return [fun(v) for v in list(items)[:-1]]
        with pytest.raises(ValueError, match="`workers`"):
            numerical_gradient(rosen, X5, workers=short_map)

    # -- Dask distributed ------------------------------------------------------------
    def test_dask_gradient_bitwise_equal_to_serial(self, dask_map):
        x = RNG_POINTS[3]
        assert_array_equal(numerical_gradient(rosen, x, workers=dask_map),
                           numerical_gradient(rosen, x))

    def test_dask_jacobian_bitwise_equal_to_serial(self, dask_map):
        assert_array_equal(jacobian(rosen_der, X5, workers=dask_map), jacobian(rosen_der, X5))

    def test_dask_hessian_bitwise_equal_to_serial(self, dask_map):
        assert_array_equal(hessian(rosen, X5, workers=dask_map), hessian(rosen, X5))

    # -- bad values ------------------------------------------------------------------
    @pytest.mark.parametrize("workers", [0, -2])
    def test_nonpositive_workers_is_value_error(self, workers):
        with pytest.raises(ValueError, match="`workers`"):
            numerical_gradient(rosen, X5, workers=workers)

    @pytest.mark.parametrize("workers", ["2", 2.0, True])
    def test_non_int_workers_is_type_error(self, workers):
        with pytest.raises(TypeError, match="`workers`"):
            numerical_gradient(rosen, X5, workers=workers)


# ======================================================================== TestComplexStep
class TestComplexStep:
    @pytest.mark.parametrize("k", range(10))
    def test_rosen_gradient_near_machine_precision(self, k):
        x = RNG_POINTS[k]
        assert rel_err(numerical_gradient(rosen, x, method="complex"), rosen_der(x)) <= 1e-14

    def test_xy_gradient_near_machine_precision(self):
        x = np.array([1.0, 2.0])
        assert rel_err(numerical_gradient(xy, x, method="complex"), xy_grad(x)) <= 1e-14

    def test_sinexp_gradient_near_machine_precision(self):
        x = np.array([10.0, 100.0, 1000.0, -50.0])
        assert rel_err(numerical_gradient(sinexp, x, method="complex"), sinexp_grad(x)) <= 1e-14

    def test_gradient_uses_n_evaluations(self):
        rec = Recorder(xy)
        numerical_gradient(rec, [1.0, 2.0], method="complex")
        assert rec.calls == 2

    def test_f_receives_complex_points(self):
        rec = Recorder(xy)
        numerical_gradient(rec, [1.0, 2.0], method="complex")
        assert all(np.iscomplexobj(p) for p in rec.points)

    def test_jacobian_near_machine_precision(self):
        assert rel_err(jacobian(vec3, X3, method="complex"), vec3_jac(X3)) <= 1e-14

    def test_partial_derivative_near_machine_precision(self):
        d = partial_derivative(xy, [1.0, 2.0], 1, method="complex")
        assert abs(d - xy_grad(np.array([1.0, 2.0]))[1]) <= 1e-14 * abs(d)

    def test_vectorized_bitwise_equal_to_pointwise(self):
        assert_array_equal(numerical_gradient(rosen_rows, X5, method="complex", vectorized=True),
                           numerical_gradient(rosen, X5, method="complex"))

    def test_thread_map_bitwise_equal_to_serial(self, thread_map):
        assert_array_equal(numerical_gradient(rosen, X5, method="complex", workers=thread_map),
                           numerical_gradient(rosen, X5, method="complex"))

    def test_float_cast_in_f_is_type_error(self):
        with pytest.raises(TypeError, match="complex"):
            numerical_gradient(lambda v: float(v[0] ** 2 + v[1]), [1.0, 2.0], method="complex")

    def test_math_function_in_f_is_type_error(self):
        with pytest.raises(TypeError, match="complex"):
            numerical_gradient(lambda v: math.sin(v[0]) + v[1], [1.0, 2.0], method="complex")

    def test_abs_dropping_imaginary_part_is_type_error(self):
        with pytest.raises(TypeError, match="imaginary"):
            numerical_gradient(lambda v: np.abs(v[0]) + np.abs(v[1]), [1.0, 2.0],
                               method="complex")

    def test_real_part_dropping_imaginary_part_is_type_error(self):
        with pytest.raises(TypeError, match="imaginary"):
            numerical_gradient(lambda v: np.real(v @ v), [1.0, 2.0], method="complex")


# ======================================================================== TestHigherOrder
class TestHigherOrder:
    def test_order6_truncation_error_is_smaller_than_order4_at_the_same_step(self):
        e4 = rel_err(numerical_gradient(sinexp, X4, h=0.1, order=4), sinexp_grad(X4))
        e6 = rel_err(numerical_gradient(sinexp, X4, h=0.1, order=6), sinexp_grad(X4))
        assert e6 < e4 / 10

    def test_order6_reaches_1e12_on_sinexp(self):
        assert rel_err(numerical_gradient(sinexp, X4, order=6), sinexp_grad(X4)) <= 1e-12

    def test_order6_exact_to_rounding_on_degree6_polynomial(self):
        def p6(v):
            return v[0] ** 6 - 3 * v[0] ** 5 * v[1] + v[1] ** 4
        x = np.array([0.7, -0.4])
        exact = np.array([6 * x[0] ** 5 - 15 * x[0] ** 4 * x[1],
                          -3 * x[0] ** 5 + 4 * x[1] ** 3])
        assert rel_err(numerical_gradient(p6, x, order=6), exact) <= 1e-12

    def test_order6_uses_6n_evaluations(self):
        rec = Recorder(sinexp)
        numerical_gradient(rec, X4, order=6)
        assert rec.calls == 24

    def test_order6_stencil_is_seven_point_symmetric(self):
        rec = Recorder(xy)
        x = np.array([1.0, 2.0])
        r = numerical_gradient(rec, x, order=6, full_output=True)
        rec.points.clear()
        numerical_gradient(rec, x, order=6)
        offsets = sorted(float((p - x)[0] / r.step[0]) for p in rec.points if p[1] == x[1] and p[0] != x[0])
        assert offsets == [-3.0, -2.0, -1.0, 1.0, 2.0, 3.0]

    @pytest.mark.parametrize("order", [1, 3, 8])
    def test_unsupported_order_is_value_error(self, order):
        with pytest.raises(ValueError, match="`order`"):
            numerical_gradient(sinexp, X4, order=order)


# ======================================================================== TestFullOutput
SE_POINTS = [np.array(p) for p in ([0.5, -1.0, 2.0, 3.0], [1.0, 2.0, 3.0, 4.0],
                                   [-3.0, -2.0, 0.1, 5.0], [0.3, 0.7])]
GRAD_SUITE = ([(rosen, rosen_der, p) for p in RNG_POINTS]
              + [(xy, xy_grad, np.array([1.0, 2.0]))]
              + [(sinexp, sinexp_grad, p) for p in SE_POINTS]
              + [(poly, poly_grad, np.array([1.5, -0.5, 2.0])),
                 (poly, poly_grad, np.array([-1.0, 0.3, 0.7])),
                 (explog, explog_grad, np.array([0.5, 2.0])),
                 (explog, explog_grad, np.array([-1.0, 0.3]))])
HESS_SUITE = ([(rosen, rosen_hess, p) for p in RNG_POINTS]
              + [(xy, xy_hess, np.array([1.0, 2.0]))]
              + [(sinexp, sinexp_hess, p) for p in SE_POINTS]
              + [(poly, poly_hess, np.array([1.5, -0.5, 2.0])),
                 (poly, poly_hess, np.array([-1.0, 0.3, 0.7])),
                 (explog, explog_hess, np.array([0.5, 2.0])),
                 (explog, explog_hess, np.array([-1.0, 0.3]))])
JAC_SUITE = ([(vec3, vec3_jac, X3), (vec3, vec3_jac, np.array([-1.0, 0.3, 0.7]))]
             + [(rosen_der, rosen_hess, p) for p in RNG_POINTS[:5]]
             + [(xy_grad, xy_hess, np.array([1.0, 2.0]))]
             + [(sinexp_grad, sinexp_hess, p) for p in SE_POINTS]
             + [(poly_grad, poly_hess, np.array([1.5, -0.5, 2.0])),
                (explog_grad, explog_hess, np.array([0.5, 2.0]))])


def coverage(fn, suite, **kw):
    """Fraction of entries, over the suite, whose error estimate bounds the true error."""
    bounded = total = 0
    for f, exact, x in suite:
        r = fn(f, x, full_output=True, **kw)
        ok = r.error >= np.abs(r.value - exact(x))
        bounded += int(ok.sum())
        total += ok.size
    return bounded / total


class TestFullOutput:
    def test_returns_derivative_result(self):
        assert isinstance(numerical_gradient(xy, [1.0, 2.0], full_output=True), DerivativeResult)

    @pytest.mark.parametrize("kw", [{}, {"order": 4}, {"order": 6}, {"method": "forward"},
                                    {"method": "backward"}, {"h": 1e-3}, {"h": "adaptive"},
                                    {"method": "complex"}],
                             ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()) or "default")
    def test_gradient_value_bitwise_equal_to_plain_call(self, kw):
        x = RNG_POINTS[0]
        assert_array_equal(numerical_gradient(rosen, x, full_output=True, **kw).value,
                           numerical_gradient(rosen, x, **kw))

    @pytest.mark.parametrize("method", ["central", "forward", "complex"])
    def test_jacobian_value_bitwise_equal_to_plain_call(self, method):
        assert_array_equal(jacobian(vec3, X3, method=method, full_output=True).value,
                           jacobian(vec3, X3, method=method))

    def test_hessian_value_bitwise_equal_to_plain_call(self):
        assert_array_equal(hessian(rosen, X5, full_output=True).value, hessian(rosen, X5))

    def test_hessian_with_grad_value_bitwise_equal_to_plain_call(self):
        assert_array_equal(hessian(None, X5, grad=rosen_der, full_output=True).value,
                           hessian(None, X5, grad=rosen_der))

    def test_native_value_bitwise_equal_to_plain_call(self, clib):
        assert_array_equal(numerical_gradient(clib.rosen_c, X5, full_output=True).value,
                           numerical_gradient(clib.rosen_c, X5))

    def test_native_hessian_value_bitwise_equal_to_plain_call(self, clib):
        assert_array_equal(hessian(clib.rosen_c, X5, full_output=True).value,
                           hessian(clib.rosen_c, X5))

    def test_vectorized_value_bitwise_equal_to_plain_call(self):
        assert_array_equal(numerical_gradient(rosen_rows, X5, vectorized=True,
                                              full_output=True).value,
                           numerical_gradient(rosen_rows, X5, vectorized=True))

    def test_workers_value_bitwise_equal_to_plain_call(self, thread_map):
        assert_array_equal(hessian(rosen, X5, workers=thread_map, full_output=True).value,
                           hessian(rosen, X5))

    def test_gradient_error_has_value_shape(self):
        r = numerical_gradient(rosen, X5, full_output=True)
        assert r.error.shape == r.value.shape == (5,)

    def test_jacobian_error_has_value_shape(self):
        r = jacobian(vec3, X3, full_output=True)
        assert r.error.shape == r.value.shape == (4, 3)

    def test_hessian_error_has_value_shape(self):
        r = hessian(rosen, X5, full_output=True)
        assert r.error.shape == r.value.shape == (5, 5)

    def test_error_is_nonnegative_and_finite(self):
        r = hessian(xy, [1.0, 2.0], full_output=True)
        assert np.all(np.isfinite(r.error)) and np.all(r.error >= 0)

    def test_step_is_per_coordinate_and_positive(self):
        r = numerical_gradient(rosen, X5, full_output=True)
        assert r.step.shape == (5,) and np.all(r.step > 0)

    def test_gradient_nfev_counts_every_call(self):
        rec = Recorder(rosen)
        r = numerical_gradient(rec, X5, full_output=True)
        assert r.nfev == rec.calls

    def test_order6_nfev_counts_every_call(self):
        rec = Recorder(rosen)
        r = numerical_gradient(rec, X5, order=6, full_output=True)
        assert r.nfev == rec.calls

    def test_jacobian_nfev_counts_every_call(self):
        rec = Recorder(vec3)
        r = jacobian(rec, X3, full_output=True)
        assert r.nfev == rec.calls

    def test_hessian_nfev_counts_every_call(self):
        rec = Recorder(rosen)
        r = hessian(rec, X5, full_output=True)
        assert r.nfev == rec.calls

    def test_adaptive_nfev_counts_every_call(self):
        rec = Recorder(sinexp)
        r = numerical_gradient(rec, X4, h="adaptive", full_output=True)
        assert r.nfev == rec.calls

    def test_complex_nfev_counts_every_call(self):
        rec = Recorder(xy)
        r = numerical_gradient(rec, [1.0, 2.0], method="complex", full_output=True)
        assert r.nfev == rec.calls

    def test_repr_names_value_error_and_nfev(self):
        text = repr(numerical_gradient(xy, [1.0, 2.0], full_output=True))
        assert "value=" in text and "error" in text and "nfev=" in text

    @pytest.mark.parametrize("kw", [{}, {"order": 4}, {"order": 6}, {"method": "forward"},
                                    {"method": "backward"}],
                             ids=["central2", "central4", "central6", "forward", "backward"])
    def test_gradient_error_bounds_true_error_in_95_percent(self, kw):
        assert coverage(numerical_gradient, GRAD_SUITE, **kw) >= 0.95

    @pytest.mark.parametrize("method", ["central", "forward"])
    def test_jacobian_error_bounds_true_error_in_95_percent(self, method):
        assert coverage(jacobian, JAC_SUITE, method=method) >= 0.95

    def test_hessian_error_bounds_true_error_in_95_percent(self):
        assert coverage(hessian, HESS_SUITE) >= 0.95

    def test_adaptive_error_bounds_true_error_in_95_percent(self):
        assert coverage(numerical_gradient, GRAD_SUITE, h="adaptive") >= 0.95

    def test_gradient_error_estimate_is_informative(self):
        # A bound is only useful when it is small: central differences are good to ~1e-10.
        worst = max(float(np.max(r.error) / np.max(np.abs(r.value)))
                    for r in (numerical_gradient(f, x, full_output=True) for f, _, x in GRAD_SUITE))
        assert worst <= 1e-6

    def test_hessian_error_estimate_is_informative(self):
        worst = max(float(np.max(r.error) / np.max(np.abs(r.value)))
                    for r in (hessian(f, x, full_output=True) for f, _, x in HESS_SUITE))
        assert worst <= 1e-4


# ======================================================================== TestAdaptive
ADAPTIVE_CASES = ([(rosen, rosen_der, p) for p in RNG_POINTS]
                  + [(xy, xy_grad, np.array([1.0, 2.0])),
                     (sinexp, sinexp_grad, np.array([10.0, 100.0, 1000.0, -50.0]))])
ADAPTIVE_IDS = [f"rosen{k}" for k in range(10)] + ["x2y+exp(xy)", "sin*exp"]


class TestAdaptive:
    @pytest.mark.parametrize("f, exact, x", ADAPTIVE_CASES, ids=ADAPTIVE_IDS)
    def test_gradient_relative_error_at_most_1e12(self, f, exact, x):
        assert rel_err(numerical_gradient(f, x, h="adaptive"), exact(x)) <= 1e-12

    @pytest.mark.parametrize("k", range(10))
    def test_jacobian_relative_error_at_most_1e12(self, k):
        x = RNG_POINTS[k]
        assert rel_err(jacobian(rosen_der, x, h="adaptive"), rosen_hess(x)) <= 1e-12

    def test_native_bitwise_equal_to_python(self, clib):
        x = np.array([10.0, 100.0, 1000.0, -50.0])
        assert_array_equal(numerical_gradient(clib.sinexp_c, x, h="adaptive"),
                           numerical_gradient(sinexp_loop, x, h="adaptive"))

    def test_native_threads_bitwise_equal_to_serial(self, clib):
        x = RNG_POINTS[6]
        assert_array_equal(numerical_gradient(clib.rosen_c, x, h="adaptive", workers=2),
                           numerical_gradient(clib.rosen_c, x, h="adaptive"))

    def test_vectorized_bitwise_equal_to_pointwise(self):
        x = RNG_POINTS[7]
        assert_array_equal(numerical_gradient(rosen_rows, x, h="adaptive", vectorized=True),
                           numerical_gradient(rosen, x, h="adaptive"))

    def test_adaptive_with_forward_is_value_error(self):
        with pytest.raises(ValueError, match="adaptive"):
            numerical_gradient(rosen, X5, h="adaptive", method="forward")

    def test_unknown_step_string_is_value_error(self):
        with pytest.raises(ValueError, match="`h`"):
            numerical_gradient(rosen, X5, h="auto")


# ======================================================================== TestBounds
LB = np.array([0.0, -1.0, 1.0])
UB = np.array([1.0, 2.0, 3.0])
POSITIONS = {
    "on_lower": LB.copy(),
    "on_upper": UB.copy(),
    "lower_upper_inside": np.array([0.0, 2.0, 2.0]),
    "1e-12_from_lower": LB + 1e-12,
    "1e-12_from_upper": UB - 1e-12,
    "1ulp_from_lower": np.nextafter(LB, np.inf),
    "1ulp_from_upper": np.nextafter(UB, -np.inf),
    "inside": np.array([0.5, 0.5, 2.0]),
}


def bf(v):
    """Scalar test function of the bounds tests."""
    return np.sum(np.sin(v) * np.exp(v / 3)) + v[0] * v[1]


def bf_grad(v):
    g = sinexp_grad(v)
    g[0] += v[1]
    g[1] += v[0]
    return g


def bf_hess(v):
    H = sinexp_hess(v)
    H[0, 1] += 1.0
    H[1, 0] += 1.0
    return H


def bvec(v):
    return np.array([bf(v), v[0] * v[2]])


def bvec_jac(v):
    return np.array([bf_grad(v), [v[2], 0.0, v[0]]])


def outside(points, lb=LB, ub=UB):
    """Number of recorded points with a coordinate outside [lb, ub]."""
    P = np.array(points)
    return int(np.sum(np.any((P < lb) | (P > ub), axis=1)))


GRAD_KW = {"central2": {}, "central4": {"order": 4}, "central6": {"order": 6},
           "forward": {"method": "forward"}, "backward": {"method": "backward"},
           "full_output": {"full_output": True}}
JAC_KW = {"central": {}, "forward": {"method": "forward"}, "full_output": {"full_output": True}}
HESS_KW = {"from_f": {}, "full_output": {"full_output": True}}


def value_of(r):
    return r.value if isinstance(r, DerivativeResult) else r


def adaptive_bounded(position):
    """Adaptive gradient of bf with bounds, in a separate interpreter (it has crashed)."""
    x = POSITIONS[position]
    return run_isolated(f"""
        import json
        import numpy as np
        from fastgrad import numerical_gradient
        seen = []
        def f(v):
            seen.append(v.copy())
            return np.sum(np.sin(v) * np.exp(v / 3)) + v[0] * v[1]
        lb, ub = np.array({LB.tolist()}), np.array({UB.tolist()})
        g = numerical_gradient(f, np.array({[float(v) for v in x]!r}), h="adaptive",
                               bounds=(lb, ub))
        P = np.array(seen)
        out = int(np.sum(np.any((P < lb) | (P > ub), axis=1)))
        print(json.dumps({{"outside": out, "grad": g.tolist()}}))
    """)


class TestBounds:
    # -- every point f saw lies in [lb, ub] --------------------------------------------
    @pytest.mark.parametrize("kw", GRAD_KW.values(), ids=GRAD_KW.keys())
    @pytest.mark.parametrize("position", POSITIONS)
    def test_gradient_evaluates_only_inside_bounds(self, position, kw):
        rec = Recorder(bf)
        numerical_gradient(rec, POSITIONS[position], bounds=(LB, UB), **kw)
        assert outside(rec.points) == 0

    @pytest.mark.parametrize("kw", JAC_KW.values(), ids=JAC_KW.keys())
    @pytest.mark.parametrize("position", POSITIONS)
    def test_jacobian_evaluates_only_inside_bounds(self, position, kw):
        rec = Recorder(bvec)
        jacobian(rec, POSITIONS[position], bounds=(LB, UB), **kw)
        assert outside(rec.points) == 0

    @pytest.mark.parametrize("kw", HESS_KW.values(), ids=HESS_KW.keys())
    @pytest.mark.parametrize("position", POSITIONS)
    def test_hessian_evaluates_only_inside_bounds(self, position, kw):
        rec = Recorder(bf)
        hessian(rec, POSITIONS[position], bounds=(LB, UB), **kw)
        assert outside(rec.points) == 0

    @pytest.mark.parametrize("position", ["on_lower", "on_upper", "1e-12_from_lower", "inside"])
    def test_adaptive_gradient_evaluates_only_inside_bounds(self, position):
        assert adaptive_bounded(position)["outside"] == 0

    def test_hessian_with_grad_evaluates_only_inside_bounds(self):
        rec = Recorder(bf_grad)
        hessian(None, POSITIONS["lower_upper_inside"], grad=rec, bounds=(LB, UB))
        assert outside(rec.points) == 0

    def test_vectorized_gradient_evaluates_only_inside_bounds(self):
        rec = Recorder(lambda X: np.array([bf(r) for r in X]))
        numerical_gradient(rec, POSITIONS["lower_upper_inside"], bounds=(LB, UB), vectorized=True)
        assert outside(np.concatenate(rec.points)) == 0

    def test_thread_map_hessian_evaluates_only_inside_bounds(self, thread_map):
        rec = Recorder(bf)
        hessian(rec, POSITIONS["1e-12_from_upper"], bounds=(LB, UB), workers=thread_map)
        assert outside(rec.points) == 0

    def test_scalar_bounds_are_respected(self):
        rec = Recorder(bf)
        numerical_gradient(rec, [0.0, 1.0, 0.5], bounds=(0.0, 1.0))
        assert outside(rec.points, 0.0, 1.0) == 0

    # -- the result is close to the exact derivative --------------------------------------
    @pytest.mark.parametrize("kw", GRAD_KW.values(), ids=GRAD_KW.keys())
    @pytest.mark.parametrize("position", POSITIONS)
    def test_gradient_close_to_exact(self, position, kw):
        x = POSITIONS[position]
        g = value_of(numerical_gradient(bf, x, bounds=(LB, UB), **kw))
        assert rel_err(g, bf_grad(x)) <= 1e-6

    @pytest.mark.parametrize("kw", JAC_KW.values(), ids=JAC_KW.keys())
    @pytest.mark.parametrize("position", POSITIONS)
    def test_jacobian_close_to_exact(self, position, kw):
        x = POSITIONS[position]
        J = value_of(jacobian(bvec, x, bounds=(LB, UB), **kw))
        assert rel_err(J, bvec_jac(x)) <= 1e-6

    @pytest.mark.parametrize("kw", HESS_KW.values(), ids=HESS_KW.keys())
    @pytest.mark.parametrize("position", POSITIONS)
    def test_hessian_close_to_exact(self, position, kw):
        x = POSITIONS[position]
        H = value_of(hessian(bf, x, bounds=(LB, UB), **kw))
        assert rel_err(H, bf_hess(x)) <= 1e-5

    @pytest.mark.parametrize("position", ["on_lower", "on_upper", "1e-12_from_lower", "inside"])
    def test_adaptive_gradient_close_to_exact(self, position):
        g = np.array(adaptive_bounded(position)["grad"])
        assert rel_err(g, bf_grad(POSITIONS[position])) <= 1e-6

    def test_hessian_with_grad_close_to_exact(self):
        x = POSITIONS["lower_upper_inside"]
        assert rel_err(hessian(None, x, grad=bf_grad, bounds=(LB, UB)), bf_hess(x)) <= 1e-6

    @pytest.mark.parametrize("position", ["on_lower", "1e-12_from_upper"])
    def test_native_gradient_close_to_exact(self, clib, position):
        x = np.concatenate([POSITIONS[position], [0.5]])
        lb, ub = np.append(LB, 0.0), np.append(UB, 1.0)
        assert rel_err(numerical_gradient(clib.sinexp_c, x, bounds=(lb, ub)),
                       sinexp_grad(x)) <= 1e-6

    def test_native_hessian_on_bound_threads_bitwise_equal_to_serial(self, clib):
        x = POSITIONS["on_lower"]
        assert_array_equal(hessian(clib.sinexp_c, x, bounds=(LB, UB), workers=2),
                           hessian(clib.sinexp_c, x, bounds=(LB, UB)))

    def test_hessian_on_bound_full_output_value_bitwise_equal_to_plain_call(self):
        x = POSITIONS["on_lower"]
        assert_array_equal(hessian(bf, x, bounds=(LB, UB), full_output=True).value,
                           hessian(bf, x, bounds=(LB, UB)))

    # -- bounds tighter than the step on both sides ----------------------------------
    # SciPy's own case (scipy/optimize/tests/test__numdiff.py, test_tight_bounds):
    # x0 = (10, 10), bounds x0 - 3e-9 .. x0 + 2e-9, tolerance rtol=1e-6.
    @staticmethod
    def tight_f(x):
        return np.array([x[0] * np.sin(x[1]), x[1] * np.cos(x[0]), x[0] ** 3 * x[1] ** -0.5])

    @staticmethod
    def tight_jac(x):
        return np.array([[np.sin(x[1]), x[0] * np.cos(x[1])],
                         [-x[1] * np.sin(x[0]), np.cos(x[0])],
                         [3 * x[0] ** 2 * x[1] ** -0.5, -0.5 * x[0] ** 3 * x[1] ** -1.5]])

    @pytest.mark.parametrize("method", ["central", "forward"])
    def test_tight_bounds_jacobian_within_scipy_tolerance(self, method):
        x0 = np.array([10.0, 10.0])
        lb, ub = x0 - 3e-9, x0 + 2e-9
        rec = Recorder(self.tight_f)
        J = jacobian(rec, x0, method=method, bounds=(lb, ub))
        assert outside(rec.points, lb, ub) == 0
        assert_allclose(J, self.tight_jac(x0), rtol=1e-6)

    def test_tight_bounds_one_sided_where_one_side_has_almost_no_room(self):
        # 1e-13 below x, 1e-7 above: central steps of 1e-13 would divide f's rounding by
        # 1e-13; the one-sided stencil upwards with a step of 5e-8 is far better
        x0 = np.array([1.0, 2.0, 0.5])
        lb, ub = x0 - 1e-13, x0 + 1e-7
        rec = Recorder(bf)
        g = numerical_gradient(rec, x0, bounds=(lb, ub))
        assert outside(rec.points, lb, ub) == 0
        assert rel_err(g, bf_grad(x0)) <= 1e-7
        assert max(abs(p - x0).max() for p in rec.points) > 1e-8

    # -- modes agree under bounds ------------------------------------------------------
    def test_process_pool_gradient_bitwise_equal_to_serial(self):
        x = POSITIONS["lower_upper_inside"]
        assert_array_equal(numerical_gradient(rosen, x, bounds=(LB, UB), workers=2),
                           numerical_gradient(rosen, x, bounds=(LB, UB)))

    def test_process_pool_hessian_on_bound_bitwise_equal_to_serial(self):
        x = POSITIONS["on_lower"]
        assert_array_equal(hessian(rosen, x, bounds=(LB, UB), workers=2),
                           hessian(rosen, x, bounds=(LB, UB)))

    def test_infinite_bounds_bitwise_equal_to_no_bounds(self):
        assert_array_equal(numerical_gradient(bf, X3, bounds=(-np.inf, np.inf)),
                           numerical_gradient(bf, X3))

    def test_far_bounds_bitwise_equal_to_no_bounds(self):
        assert_array_equal(hessian(bf, X3, bounds=(-10.0, 10.0)), hessian(bf, X3))

    # -- bad bounds -----------------------------------------------------------------
    @pytest.mark.parametrize("fn", [numerical_gradient, jacobian, hessian])
    def test_x_below_lower_bound_is_value_error_naming_x_and_bounds(self, fn):
        with pytest.raises(ValueError, match="`x`.*`bounds`"):
            fn(bf, np.array([-0.1, 0.5, 2.0]), bounds=(LB, UB))

    @pytest.mark.parametrize("fn", [numerical_gradient, jacobian, hessian])
    def test_x_above_upper_bound_is_value_error_naming_x_and_bounds(self, fn):
        with pytest.raises(ValueError, match="`x`.*`bounds`"):
            fn(bf, np.array([0.5, 0.5, np.nextafter(3.0, 4.0)]), bounds=(LB, UB))

    def test_equal_bounds_is_value_error(self):
        with pytest.raises(ValueError, match="`bounds`"):
            numerical_gradient(bf, X3, bounds=(X3, X3))
