"""Tests of clip_by_norm: one global L2 norm over an array or a tuple/list of arrays and floats."""
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from fastgrad import clip_by_norm

G = np.array([3.0, -4.0, 12.0])  # norm 13


class TestClipArray:
    def test_returns_norm_of_input(self):
        assert clip_by_norm(G, 1.0)[1] == pytest.approx(np.linalg.norm(G), rel=1e-15)

    def test_norm_is_python_float(self):
        assert isinstance(clip_by_norm(G, 1.0)[1], float)

    def test_scales_by_max_norm_over_norm_when_above(self):
        assert_allclose(clip_by_norm(G, 2.0)[0], G * (2.0 / 13.0), rtol=1e-15)

    def test_clipped_norm_equals_max_norm(self):
        assert np.linalg.norm(clip_by_norm(G, 2.0)[0]) == pytest.approx(2.0, rel=1e-14)

    def test_unchanged_when_below(self):
        assert_array_equal(clip_by_norm(G, 20.0)[0], G)

    def test_unchanged_when_norm_equals_max_norm(self):
        g = np.array([3.0, 4.0])
        assert_array_equal(clip_by_norm(g, 5.0)[0], g)

    def test_returns_ndarray_of_same_shape_for_2d(self):
        g = np.arange(6.0).reshape(2, 3)
        out = clip_by_norm(g, 1.0)[0]
        assert (type(out), out.shape) == (np.ndarray, (2, 3))

    def test_2d_uses_frobenius_norm(self):
        g = np.arange(6.0).reshape(2, 3)
        out, norm = clip_by_norm(g, 1.0)
        assert_allclose(out, g / np.linalg.norm(g), rtol=1e-14)

    def test_zero_gradient_gives_zeros_without_warning(self):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            out, norm = clip_by_norm(np.zeros(3), 1.0)
        assert norm == 0.0 and np.array_equal(out, np.zeros(3))

    def test_input_not_modified(self):
        g = G.copy()
        clip_by_norm(g, 1.0)
        assert_array_equal(g, G)

    def test_read_only_input_works(self):
        g = G.copy()
        g.flags.writeable = False
        assert_allclose(clip_by_norm(g, 2.0)[0], G * (2.0 / 13.0), rtol=1e-15)

    def test_float32_array(self):
        g = G.astype(np.float32)
        assert_allclose(clip_by_norm(g, 2.0)[0], G * (2.0 / 13.0), rtol=1e-6)


class TestClipStructure:
    def test_tuple_stays_tuple(self):
        out, _ = clip_by_norm((np.array([3.0]), 4.0), 1.0)
        assert type(out) is tuple and len(out) == 2

    def test_list_stays_list(self):
        out, _ = clip_by_norm([np.array([3.0]), 4.0], 1.0)
        assert type(out) is list and len(out) == 2

    def test_float_stays_float(self):
        out, _ = clip_by_norm((np.array([3.0]), 4.0), 1.0)
        assert isinstance(out[1], float) and not isinstance(out[1], np.ndarray)

    def test_array_stays_array_with_its_shape(self):
        out, _ = clip_by_norm((np.ones((2, 2)), 4.0), 1.0)
        assert type(out[0]) is np.ndarray and out[0].shape == (2, 2)

    def test_norm_is_global_over_all_parts(self):
        parts = (np.array([1.0, 2.0]), np.array([[2.0], [4.0]]), 10.0)
        expected = np.sqrt(1 + 4 + 4 + 16 + 100)
        assert clip_by_norm(parts, 1.0)[1] == pytest.approx(expected, rel=1e-15)

    def test_every_part_scaled_by_the_same_factor(self):
        parts = (np.array([1.0, 2.0]), np.array([[2.0], [4.0]]), 10.0)
        out, norm = clip_by_norm(parts, 2.0)
        k = 2.0 / norm
        assert_allclose(np.concatenate([out[0], out[1].ravel(), [out[2]]]),
                        k * np.array([1.0, 2.0, 2.0, 4.0, 10.0]), rtol=1e-14)

    def test_clipped_global_norm_equals_max_norm(self):
        parts = [np.array([3.0, -4.0]), 12.0]
        out, _ = clip_by_norm(parts, 6.5)
        assert np.sqrt(np.sum(out[0] ** 2) + out[1] ** 2) == pytest.approx(6.5, rel=1e-14)

    def test_structure_unchanged_when_below(self):
        parts = (np.array([0.1, 0.2]), 0.3)
        out, _ = clip_by_norm(parts, 10.0)
        assert_array_equal(out[0], parts[0])
        assert out[1] == 0.3

    def test_arrays_in_tuple_not_modified(self):
        a = np.array([3.0, 4.0])
        clip_by_norm((a, 12.0), 1.0)
        assert_array_equal(a, [3.0, 4.0])

    def test_list_passed_in_is_not_modified(self):
        parts = [np.array([3.0, 4.0]), 12.0]
        clip_by_norm(parts, 1.0)
        assert parts[1] == 12.0

    def test_list_of_floats_stays_list_of_floats(self):
        out, norm = clip_by_norm([3.0, 4.0], 1.0)
        assert type(out) is list and all(type(v) is float for v in out)

    def test_list_of_floats_scaled(self):
        out, norm = clip_by_norm([3.0, 4.0], 1.0)
        assert_allclose(out, [0.6, 0.8], rtol=1e-15)


class TestClipHuge:
    def test_norm_near_1e200_is_finite_and_exact(self):
        g, norm = clip_by_norm((np.array([3e200]), 4e200), 1.0)
        assert norm == pytest.approx(5e200, rel=1e-15)
        assert g[0][0] == pytest.approx(0.6, rel=1e-15) and g[1] == pytest.approx(0.8, rel=1e-15)
