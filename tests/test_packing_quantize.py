"""Bit packing and quantization: exact round trips and byte counts."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sharekan_core.compression import index_bits, pack_bits, quantize, unpack_bits
from sharekan_core.compression.packing import packed_nbytes
from sharekan_core.compression.quantize import quantized_nbytes
from sharekan_core.errors import SharekanError


@settings(max_examples=60, deadline=None)
@given(bits=st.integers(1, 20), count=st.integers(0, 300), seed=st.integers(0, 99))
def test_pack_roundtrip(bits, count, seed):
    values = np.random.default_rng(seed).integers(0, 2 ** bits, size=count)
    packed = pack_bits(values, bits)
    assert packed.dtype == np.uint8 and packed.size == packed_nbytes(count, bits)
    np.testing.assert_array_equal(unpack_bits(packed, bits, count), values)


@pytest.mark.parametrize("k,bits", [(2, 1), (3, 2), (4, 2), (5, 3), (4096, 12), (4097, 13), (65_536, 16), (1, 1)])
def test_index_bits(k, bits):
    assert index_bits(k) == bits


@settings(max_examples=40, deadline=None)
@given(bits=st.sampled_from([4, 8, 16, 32]), rows=st.integers(1, 9), cols=st.integers(1, 30),
       scale=st.floats(1e-3, 1e3), seed=st.integers(0, 999))
def test_quantize_error_is_bounded_and_bytes_exact(bits, rows, cols, scale, seed):
    values = np.random.default_rng(seed).normal(size=(rows, cols)) * scale
    q = quantize(values, bits)
    back = q.dequantize()
    assert back.shape == values.shape and back.dtype == np.float32
    span = values.max(axis=1, keepdims=True) - values.min(axis=1, keepdims=True)
    bound = {32: 1e-6 * np.abs(values).max(), 16: 1e-3 * np.abs(values).max()}.get(bits)
    if bound is None:
        bound = span / (2 * ((1 << bits) - 1)) * 1.001 + 1e-6 * scale
    assert np.all(np.abs(back - values) <= bound)
    assert q.nbytes == quantized_nbytes(values.size, rows, bits)


@settings(max_examples=30, deadline=None)
@given(bits=st.sampled_from([4, 8]), rows=st.integers(1, 40), cols=st.integers(1, 13), seed=st.integers(0, 999))
def test_column_grouping_bounds_error_per_column_and_counts_one_pair_per_column(bits, rows, cols, seed):
    values = np.random.default_rng(seed).normal(size=(rows, cols))
    q = quantize(values, bits, grouping="columns")
    assert q.minimum.shape == (cols,) and q.grouping == "columns"
    span = values.max(axis=0, keepdims=True) - values.min(axis=0, keepdims=True)
    assert np.all(np.abs(q.dequantize() - values) <= span / (2 * ((1 << bits) - 1)) * 1.001 + 1e-6)
    assert q.nbytes == quantized_nbytes(values.size, cols, bits)
    np.testing.assert_array_equal(q.codes(), np.rint((values - q.minimum) / np.where(q.step > 0, q.step, 1)))


def test_quantize_constant_and_nan():
    q = quantize(np.full((2, 3), 5.0), 4)
    np.testing.assert_array_equal(q.dequantize(), 5.0)
    with pytest.raises(SharekanError, match="NaN"):
        quantize(np.array([1.0, np.nan]), 8, "gains")
    with pytest.raises(SharekanError, match="float16"):
        quantize(np.array([1e6]), 16)
    with pytest.raises(SharekanError, match="grouping"):
        quantize(np.ones((2, 2)), 8, grouping="diagonal")
