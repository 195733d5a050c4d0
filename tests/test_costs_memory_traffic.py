"""costs/memory_traffic and costs/energy: touched-byte counts and the energy estimate, held to closed forms
worked out by hand on tiny heads."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import prototype_kan
from sharekan_core.compression import CompressionConfig, compress
from sharekan_core.errors import SharekanError
from sharekan_core.costs.energy import (DRAM_PJ_PER_64BIT, FP32_MAC_PJ, access_pj, dense_vs_compressed, estimate,
                                          multiply_adds)
from sharekan_core.runtime.routes import TILE_FROM_ROWS, fused_route
from sharekan_core.costs.memory_traffic import (CodeWidths, LayerShape, Touched, code_width, compressed_report,
                                               compressed_shapes_and_widths, compressed_touched, dense_touched,
                                               index_width, per_edge_bytes)

# 3 inputs -> 2 outputs, G = 10, k = 3: D = 13, 6 edges
TINY = [LayerShape(3, 2, 13, 3)]


def by_item(items):
    return {t.item.split(": ", 1)[1]: t.nbytes for t in items}


def test_dense_bytes_per_edge():
    prescaled = by_item(dense_touched(TINY, batch=1))
    assert prescaled["spline coefficients"] == 6 * 13 * 4 and prescaled["base weights"] == 6 * 4
    assert per_edge_bytes(dense_touched(TINY, 1), TINY) == 56           # 52 spline + 4 base
    eager = by_item(dense_touched(TINY, batch=2, form="efficient-kan"))
    assert eager["spline scaler"] == 6 * 4
    assert eager["scaled spline copy (write + read)"] == 2 * 6 * 52
    assert per_edge_bytes(dense_touched(TINY, 2, "efficient-kan"), TINY) == 60 + 2 * 52
    assert eager["outputs"] == 2 * 2 * 4
    assert eager["per-row tables"] == 6 * 2 * (8 + 4 * 4 + 8)  # start, 4 weights, basis sum, SiLU


def test_compressed_bytes_of_each_route():
    widths = [CodeWidths(index=2, gain=1, bias=1, base=1, codebook=1, codebook_size=4096)]
    one = by_item(compressed_touched(TINY, widths, batch=1))  # the row kernel
    assert one["per-edge codes (index, gain, bias, base)"] == 6 * 5
    assert one["packed tap words gathered"] == 6 * 1 * 4         # one 4-byte word of k + 1 codes per edge and row
    assert one["gather buffer and 4 accumulators (read + write)"] == 2 * 6 * (4 + 4 * 4)
    assert one["per-row tables"] == 1 * 3 * (8 + 16 + 12)       # once per input and row, with the codebook offset
    five = by_item(compressed_touched(TINY, widths, batch=5))  # the grouped kernel
    assert five["per-edge codes (index, gain, bias, base)"] == 6 * 5      # once a call, not once a row
    assert five["packed tap words gathered"] == 5 * 6 * 4                 # at most one word per window and edge
    assert five["accumulators (read + write)"] == 2 * 5 * 6 * 4
    batch = TILE_FROM_ROWS
    tiled = by_item(compressed_touched(TINY, widths, batch=batch))  # the tile route
    assert tiled["per-edge codes (index, gain, bias, base)"] == 6 * 5
    assert tiled["codebook codes decoded"] == 6 * 13                       # each codeword decoded once per edge
    assert tiled["decoded tile (write + read)"] == 2 * 6 * 14 * 4          # D coefficients + base weight, float32
    assert tiled["per-row tables and placed bases"] == batch * 3 * (32 + 2 * 14 * 4)  # one tile: placed, read once
    assert tiled["outputs"] == batch * 2 * 4


def test_widths():
    assert [code_width(b) for b in (4, 8, 16, 32)] == [1, 1, 2, 4]
    assert [index_width(k) for k in (2, 256, 257, 65_536)] == [1, 1, 2, 2]
    with pytest.raises(SharekanError):
        index_width(65_537)
    with pytest.raises(SharekanError):
        code_width(3)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 40), st.integers(1, 40), st.integers(4, 20), st.integers(1, 3), st.integers(1, 300),
       st.sampled_from([4, 8, 16, 32]), st.integers(2, 65_536))
def test_compressed_stream_is_per_edge_widths(n_in, n_out, d, order, batch, bits, k):
    shape = [LayerShape(n_in, n_out, d, order)]
    w = code_width(bits)
    widths = [CodeWidths(index_width(k), w, w, w, w, k)]
    items = by_item(compressed_touched(shape, widths, batch))
    edges = n_in * n_out
    route = fused_route(batch, order)
    passes = batch if route == "row" else 1  # the row kernel streams the codes once per row
    assert items["per-edge codes (index, gain, bias, base)"] == passes * edges * (index_width(k) + 3 * w)
    if route == "tile":
        assert items["codebook codes decoded"] == edges * d * w
    elif route == "grouped":
        assert items["packed tap words gathered"] == min(batch, d - order) * edges * 4 * w
    else:
        assert items["packed tap words gathered"] == batch * edges * 4 * w


def test_widths_read_from_a_compressed_head():
    compressed = compress(prototype_kan((5, 4, 3), prototypes=3), CompressionConfig(codebook_size=8, bits=8))
    shapes, widths = compressed_shapes_and_widths(compressed)
    assert shapes == [LayerShape(5, 4, 13, 3), LayerShape(4, 3, 13, 3)]
    assert all((w.index, w.gain, w.bias, w.base, w.codebook) == (1, 1, 1, 1, 1) for w in widths)
    placed = compressed_report(compressed, 1, {"L1d": 32 << 10, "L2": 1 << 20})
    assert {t.level for t in placed} == {"L1d"}  # a 32-edge head fits in L1


def test_energy_closed_forms():
    caches = {"L1d": 32 << 10, "L2": 512 << 10, "L3": 8 << 20}
    assert access_pj("L1d", caches) == (20.0, 20.0) and access_pj("L2", caches) == (100.0, 100.0)
    assert access_pj("L3", caches) == (100.0, 100.0)  # no figure above 1 MB: the 1 MB price
    assert access_pj("DRAM", caches) == DRAM_PJ_PER_64BIT
    energy = estimate([Touched("a", 800, "stream", "DRAM"), Touched("b", 80, "tables", "L1d")], macs=1000,
                      caches=caches)
    assert energy.memory_nj == pytest.approx((100 * 1.3 + 10 * 0.02, 100 * 2.6 + 10 * 0.02))
    assert energy.arithmetic_nj == pytest.approx(1000 * 4.6 / 1e3) and FP32_MAC_PJ == pytest.approx(4.6)
    assert "Horowitz" in energy.source and "ISSCC 2014" in energy.source


def test_multiply_adds_closed_forms():
    assert multiply_adds(TINY, 2, "efficient-kan") == 6 * 2 * 14 + 6 * 13
    assert multiply_adds(TINY, 2, "pre-scaled") == 6 * 2 * 14
    assert multiply_adds(TINY, 2, "dense kernel") == 6 * 2 * 5
    widths = [CodeWidths(index=2, gain=1, bias=1, base=1, codebook=1, codebook_size=4096)]
    assert multiply_adds(TINY, 1, "compressed", widths) == 6 * (4 + 4)          # row: k + 1 taps, 4 accumulations
    assert multiply_adds(TINY, 8, "compressed", widths) == 6 * (3 + 4 * 8) + 6 * 8 * 7  # grouped: 8 windows, 7 a row
    batch = TILE_FROM_ROWS
    assert multiply_adds(TINY, batch, "compressed", widths) == 6 * 29 + 6 * batch * 14  # tile: 2D + 3, then D + 1
    with pytest.raises(SharekanError):
        multiply_adds(TINY, 1, "compressed")


def test_dense_against_compressed_rows():
    compressed = compress(prototype_kan((12, 10, 4), prototypes=5), CompressionConfig(codebook_size=8, bits=8))
    rows = {r["form"]: r for r in dense_vs_compressed(compressed, 1, {"L1d": 32 << 10, "L2": 1 << 20})}
    assert rows["dense, pre-scaled eager"]["streamed_bytes_per_edge"] == 56
    assert rows["dense, efficient-kan eager"]["streamed_bytes_per_edge"] == 164
    assert rows["compressed, fused kernel"]["streamed_bytes_per_edge"] == 4  # 1 B index + 3 codes at 8 bits
    assert rows["compressed, fused kernel"]["touched_bytes"] < rows["dense, pre-scaled eager"]["touched_bytes"]


def test_footprint_counts_each_set_once():
    from sharekan_core.costs.memory_traffic import compressed_sets, dense_sets, footprint

    sets = dense_sets(TINY, batch=2)
    assert sets["stream"] == 6 * 56 and sets["tables"] == 3 * 2 * 32 and sets["output"] == 2 * 2 * 4
    assert footprint(sets) == 6 * 56 + 3 * 2 * 32 + 2 * 2 * 4
    compressed = compress(prototype_kan((5, 4, 3), prototypes=3), CompressionConfig(codebook_size=8, bits=8))
    sets = compressed_sets(compressed, batch=1)
    # codes, the interval-major tap table (10 windows of a 4-byte word) and the column affine
    codebooks = sum(c.shape[0] * (13 * 1 + 10 * 4) + 2 * 13 * 4 for c in compressed.codebooks)
    assert sets["resident"] == codebooks
    assert sets["stream"] == (20 + 12) * 4 + codebooks  # 1 B index + 3 codes per edge, plus the codebooks
    assert sets["tables"] == 5 * 1 * 36 and sets["output"] == 4 * 4
    assert footprint(sets) == sets["stream"] + sets["tables"] + sets["scratch"] + sets["output"] > sets["stream"]


def test_the_index_width_has_one_home():
    """The cost model counts the bytes the runtimes hold: the numba kernels' and the torch path's index types are
    routes.index_bytes wide (the torch path widens only above 32,768, where torch has no unsigned 16-bit index)."""
    import numpy as np
    import torch

    from sharekan_core.runtime import compressed_kan, fused_kernel
    from sharekan_core.runtime.routes import index_bytes

    for k in (2, 256, 257, 32_768, 32_769, 65_536):
        assert index_width(k) == index_bytes(k) == np.dtype(fused_kernel.index_dtype(k)).itemsize
        torch_bytes = torch.empty(0, dtype=compressed_kan.index_dtype(k)).element_size()
        assert torch_bytes == (index_bytes(k) if k <= 32_768 else 4)
