"""The exported program (runtime.program, runtime.dequantize): every method and bit-width the compressor writes
runs in ExecuTorch's runtime equal to the plain reference decompress(c)(x), and the .pte keeps the codes at their
stored width. Exports are slow, so each test exports one program holding several small models."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import prototype_kan
from sharekan_core.compression import (CompressionConfig, GPTQConfig, KMeansConfig, PruneConfig, UniformConfig, compress,
                                    decompress)
from sharekan_core.compression.packing import pack_bits, packed_nbytes
from sharekan_core.runtime.compressed_kan import CompressedDomainKAN
from sharekan_core.runtime.dequantize import DequantizedTensor, PackedCodes
from sharekan_core.runtime.executorch_export import export_program, program_contents
from sharekan_core.runtime.program import KANProgram, KnotBases, UniformBases, is_uniform


def non_uniform(model):
    """``model`` with each knot row of its first layer moved off the even spacing (still increasing)."""
    grid = model.layers[0].grid
    with torch.no_grad():
        grid.add_(0.04 * torch.sin(torch.arange(grid.shape[1], dtype=torch.float32) * 1.7))
    return model


ODD, ONE = (5, 3, 2), (5, 3)  # 4-bit rows of 5 and 3 codes straddle bytes: the flat stream
CASES = {
    "sharekan-int4": (ODD, CompressionConfig(codebook_size=8, bits=4)),
    "sharekan-int4-one-layer": (ONE, CompressionConfig(codebook_size=8, bits=4)),
    "sharekan-int8": (ONE, CompressionConfig(codebook_size=8, bits=8)),
    "sharekan-fp16": (ONE, CompressionConfig(codebook_size=8, bits=16)),
    "sharekan-fp32": (ONE, CompressionConfig(codebook_size=8, bits=32)),
    "sharekan-mixed": (ONE, CompressionConfig(codebook_size=6, bits=8, codebook_bits=16, gain_bits=4, bias_bits=32)),
    "sharekan-layer-bits": (ODD, CompressionConfig(codebook_size=6, bits=8, codebook_bits=32, layer_bits=(4, 16))),
    "sharekan-9-bit-indices": ((24, 12), CompressionConfig(codebook_size=300, bits=4)),
    "uniform-2-base-8": (ONE, UniformConfig(bits=2, base_bits=8)),
    "uniform-3-base-5": (ONE, UniformConfig(bits=3, base_bits=5)),
    "uniform-6-base-7-groups": ((6, 3), UniformConfig(bits=6, base_bits=7, group_size=3)),
    "gptq-3": (ONE, GPTQConfig(bits=3)),
    "kmeans-int4": (ODD, KMeansConfig(codebook_size=4, bits=4)),
    "kmeans-fp16": (ONE, KMeansConfig(codebook_size=4, bits=16)),
    "prune-int4": (ONE, PruneConfig(sparsity=0.5, bits=4)),
    "prune-fp32": (ODD, PruneConfig(sparsity=0.7, bits=32)),
    "prune-every-edge-of-a-layer": (ODD, PruneConfig(sparsity=0.95, bits=4)),  # keeps 1 edge, then none
    "non-uniform-knots-int8": ("non-uniform", CompressionConfig(codebook_size=8, bits=8)),
    "non-uniform-knots-uniform-5": ("non-uniform", UniformConfig(bits=5)),
}


def compressed_case(name: str):
    """The compressed model of one case (GPTQ gets 64 calibration rows)."""
    widths, config = CASES[name]
    model = non_uniform(prototype_kan(ONE, prototypes=3)) if widths == "non-uniform" else prototype_kan(widths, 3)
    calibration = np.random.default_rng(0).uniform(-1, 1, (64, model.layers[0].in_features)).astype(np.float32)
    return compress(model, config, calibration if isinstance(config, GPTQConfig) else None)


def narrowest_bits(compressed) -> int:
    """The narrowest stored width of any component (indices aside)."""
    tensors = [*compressed.codebooks, *(t for layer in compressed.layers for t in
                                        (layer.gains, layer.biases, layer.base_weights, layer.coefficients) if t)]
    return min(t.bits for t in tensors)


def tolerance(bits: int) -> float:
    """The agreement asked of a program against predict: 1e-5 relative at 32 and 16 bits, 1e-3 below."""
    return 1e-5 if bits >= 16 else 1e-3


def probe_inputs(in_features: int, batch: int, seed: int = 0) -> torch.Tensor:
    """Rows spanning the grid [-1, 1] and beyond it on both sides."""
    return torch.rand(batch, in_features, generator=torch.Generator().manual_seed(seed)) * 3.2 - 1.6


def relative_errors(outputs, expected: torch.Tensor) -> dict[int, float]:
    """Largest difference of each batch's outputs over the output scale (the largest expected value of the whole
    probe), by batch; ``outputs`` maps a batch to the outputs for the probe's first rows."""
    scale = max(float(expected.abs().max()), 1e-30)
    return {batch: float((output - expected[:batch]).abs().max()) / scale for batch, output in outputs.items()}


BATCHES = (1, 7, 33)


@pytest.mark.parametrize("name", CASES)
def test_program_module_equals_the_decompressed_model(name):
    """Eager: the program decodes the very values decompress stores, so it agrees to float32 rounding at any width."""
    compressed = compressed_case(name)
    program, probe = KANProgram(compressed), probe_inputs(compressed.layers[0].in_features, max(BATCHES))
    with torch.no_grad():
        errors = relative_errors({batch: program(probe[:batch]) for batch in BATCHES}, decompress(compressed)(probe))
    assert max(errors.values()) <= 1e-5, errors


def test_the_cases_reach_every_stored_width():
    """The cases above hold every stored width, 1-bit kept-edge masks and 9-bit indices included."""
    widths = set()
    for name in CASES:
        program = KANProgram(compressed_case(name))
        widths |= {m.bits for m in program.modules() if isinstance(m, (PackedCodes, DequantizedTensor))}
    assert {1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 32} <= widths


@pytest.mark.parametrize("bits", range(1, 17))
def test_packed_codes_read_the_files_bit_stream(bits):
    rng = np.random.default_rng(bits)
    for count in (1, 7, 8, 29, 64):
        codes = rng.integers(0, 1 << bits, count)
        unpacked = PackedCodes(pack_bits(codes, bits), bits, (count,))()
        assert unpacked.dtype == torch.float32 and np.array_equal(unpacked.numpy(), codes), count


@pytest.mark.parametrize("order", [0, 1, 3, 5])
def test_program_bases_equal_bspline_basis(order):
    from sharekan_core.model.bspline import bspline_basis, uniform_grid

    even = uniform_grid(4, 7, order, (-0.5, 2.0))
    uneven = uniform_grid(4, 7, order) + 0.04 * torch.sin(torch.arange(7 + 2 * order + 1) * 1.7)
    assert is_uniform(even.numpy()) and not is_uniform(uneven.numpy())
    x = torch.rand(500, 4, generator=torch.Generator().manual_seed(order)) * 4 - 1.5
    for bases, grid, tolerance in ((UniformBases, even, 2e-6), (KnotBases, even, 5e-7), (KnotBases, uneven, 5e-7)):
        expected = bspline_basis(x.double(), grid.double(), order)
        if bases is UniformBases and order == 0:
            continue  # piecewise constant bases jump at the knots: the program takes KnotBases for them
        assert float((bases(grid.numpy(), order)(x) - expected).abs().max()) < tolerance, bases


class Several(torch.nn.Module):
    """Several modules on the same input as one program (one export instead of many)."""

    def __init__(self, modules: list[torch.nn.Module]):
        super().__init__()
        self.parts = torch.nn.ModuleList(modules)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(part(x[:, : part.in_features]) for part in self.parts)


def run_program(path, x: torch.Tensor) -> list[torch.Tensor]:
    from executorch.runtime import Runtime

    return list(Runtime.get().load_program(path).load_method("forward").execute([x.contiguous()]))


# In the ExecuTorch runtime: every width and layout once (the eager test above covers each case).
RUNTIME_CASES = ["sharekan-int4", "sharekan-mixed", "sharekan-9-bit-indices", "uniform-2-base-8", "uniform-3-base-5",
                 "uniform-6-base-7-groups", "kmeans-fp16", "prune-int4", "non-uniform-knots-int8"]


@pytest.fixture(scope="module")
def runtime_program(tmp_path_factory):
    """One .pte holding every runtime case's KANProgram, plus the compressed-domain module at Int4 (what a
    detector program holds), with a dynamic batch."""
    compressed = [compressed_case(name) for name in RUNTIME_CASES] + [compressed_case("sharekan-int4-one-layer")]
    modules = [KANProgram(c) for c in compressed[:-1]] + [CompressedDomainKAN(compressed[-1], backend="torch")]
    path = tmp_path_factory.mktemp("programs") / "several.pte"
    width = max(c.layers[0].in_features for c in compressed)
    dynamic = ({0: torch.export.Dim("batch", min=1, max=64)},)
    export_program(Several(modules).eval(), (probe_inputs(width, 2),), path, dynamic_shapes=dynamic)
    return compressed, width, path


def test_every_width_runs_in_executorch_equal_to_the_decompressed_model(runtime_program):
    """Before the fix, the Int4 cases' export failed: aten.__rshift__ is not in the Core ATen opset."""
    compressed, width, path = runtime_program
    probe = probe_inputs(width, max(BATCHES))
    outputs = {batch: run_program(path, probe[:batch]) for batch in BATCHES}
    for index, (name, model) in enumerate(zip(RUNTIME_CASES + ["compressed-domain-int4"], compressed)):
        with torch.no_grad():
            expected = decompress(model)(probe[:, : model.layers[0].in_features])
        errors = relative_errors({batch: output[index] for batch, output in outputs.items()}, expected)
        assert max(errors.values()) <= tolerance(narrowest_bits(model)), (name, errors)


def stored_tensors(compressed) -> list[tuple[str, int]]:
    """(ExecuTorch dtype, bytes) of every tensor the file stores: codes packed at their width, floats as floats."""
    dtypes = {32: "FLOAT", 16: "HALF"}
    stored = [(dtypes.get(t.bits, "BYTE"), t.payload.nbytes) for t in compressed.codebooks]
    for layer in compressed.layers:
        stored += [(dtypes.get(t.bits, "BYTE"), t.payload.nbytes) for t in
                   (layer.gains, layer.biases, layer.base_weights, layer.coefficients) if t is not None]
        if layer.indices is not None:
            stored.append(("BYTE", packed_nbytes(layer.num_edges, compressed.index_bits(layer.codebook_id))))
        if layer.kept is not None:
            stored.append(("BYTE", packed_nbytes(layer.num_edges, 1)))
    return stored


SMALL_BYTES = 256  # the program's own tables (knot scale and shift per input, polynomials, unpacking windows)


@pytest.mark.parametrize("bits", [4, 8])
def test_the_program_holds_the_codes_at_their_stored_width(tmp_path, bits):
    """Every constant bigger than the program's small tables is one stored tensor at its stored width (a packed
    stream padded to whole groups of codes), and every stored tensor is there once: a float32 copy of the codebook
    or of a per-edge tensor, or an int64 copy of the indices, would be a constant with nothing to match."""
    model = prototype_kan((24, 16), prototypes=4)  # 384 edges: a float copy of any per-edge tensor is 1,536 bytes
    compressed = compress(model, CompressionConfig(codebook_size=16, bits=bits))
    export_program(KANProgram(compressed).eval(), (probe_inputs(24, 2),), tmp_path / "p.pte")
    contents = program_contents(tmp_path / "p.pte")
    assert contents.delegate_bytes == 0
    unmatched = sorted(stored_tensors(compressed))
    grids = [("FLOAT", layer.grid.nbytes) for layer in compressed.layers]  # de Boor's bases read the stored knots
    for dtype, _, nbytes in contents.constants:
        match = next((s for s in unmatched if s[0] == dtype and s[1] <= nbytes < s[1] + 8), None)
        assert match is not None or nbytes <= SMALL_BYTES or (dtype, nbytes) in grids, (dtype, nbytes)
        if match is not None:
            unmatched.remove(match)
    assert not [s for s in unmatched if s[1] > SMALL_BYTES]
    affines = sum(t.nbytes - t.payload.nbytes for t in [*compressed.codebooks, *(
        getattr(layer, name) for layer in compressed.layers for name in ("gains", "biases", "base_weights"))])
    stored_bytes = sum(nbytes for _, nbytes in stored_tensors(compressed)) + affines + 8 * model.layers[0].out_features
    assert contents.constant_bytes < stored_bytes + 8 * model.layers[0].in_features + SMALL_BYTES
