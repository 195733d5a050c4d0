"""format/accounting: the closed-form byte counts are the exact ones whenever each codebook keeps its assumed rows."""
from __future__ import annotations

import torch
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from sharekan_core.compression import CompressionConfig
from sharekan_core.compression.api import compress
from sharekan_core.compression.method_configs import KMeansConfig, PruneConfig
from sharekan_core.compression.pruning import prune_by_magnitude
from sharekan_core.format import save_compressed, storage_report
from sharekan_core.format.accounting import frame_bytes, kmeans_bytes, pruned_bytes, sharekan_bytes
from sharekan_core.format.compressed_file import header_nbytes
from sharekan_core.model import KAN, KANConfig


def random_kan(widths: tuple[int, ...], seed: int) -> KAN:
    """A KAN with random coefficients: every edge's shape is distinct, so a codebook keeps min(K, edges) rows."""
    torch.manual_seed(seed)
    return KAN(KANConfig(widths))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(widths=st.lists(st.integers(2, 9), min_size=2, max_size=4).map(tuple), k=st.sampled_from([2, 4, 16, 64]),
       bits=st.sampled_from([32, 16, 8, 4]), gain_bits=st.sampled_from([None, 4, 16]),
       scope=st.sampled_from(["layer", "global"]), seed=st.integers(0, 3))
def test_closed_form_is_the_exact_file_payload_when_every_codebook_keeps_k_rows(tmp_path_factory, widths, k, bits,
                                                                                gain_bits, scope, seed):
    model = random_kan(widths, seed)
    config = CompressionConfig(codebook_size=k, bits=bits, gain_bits=gain_bits, scope=scope)
    compressed = compress(model, config)
    groups = [layer.in_features * layer.out_features for layer in model.layers]
    groups = groups if scope == "layer" else [sum(groups)]
    kept = [int(codebook.shape[0]) for codebook in compressed.codebooks]
    exact = storage_report(model, compressed).compressed_bytes
    assert sharekan_bytes(model, config, kept) == exact  # given the rows kept, always exact
    assume(kept == [min(k, edges) for edges in groups])
    path = tmp_path_factory.mktemp("accounting") / "model.skan"
    file_bytes = save_compressed(compressed, path)
    assert sharekan_bytes(model, config) == exact == file_bytes - header_nbytes(path)


@settings(max_examples=8, deadline=None)
@given(widths=st.lists(st.integers(2, 9), min_size=2, max_size=3).map(tuple), k=st.sampled_from([2, 8, 32]),
       bits=st.sampled_from([16, 8, 4]))
def test_kmeans_closed_form_is_exact_when_every_codebook_keeps_k_rows(widths, k, bits):
    model = random_kan(widths, 0)
    compressed = compress(model, KMeansConfig(codebook_size=k, bits=bits))
    kept = [int(codebook.shape[0]) for codebook in compressed.codebooks]
    assume(kept == [min(k, layer.in_features * layer.out_features) for layer in model.layers])
    assert kmeans_bytes(model, KMeansConfig(codebook_size=k, bits=bits)) == \
        storage_report(model, compressed).compressed_bytes


@settings(max_examples=10, deadline=None)
@given(widths=st.lists(st.integers(2, 9), min_size=2, max_size=3).map(tuple), sparsity=st.sampled_from([0.0, 0.3, 0.75]),
       bits=st.sampled_from([32, 16, 8, 4]))
def test_pruning_closed_form_is_the_exact_payload(widths, sparsity, bits):
    model = random_kan(widths, 1)
    kept = [int(mask.sum()) for mask in prune_by_magnitude(model, sparsity).kept]
    exact = storage_report(model, compress(model, PruneConfig(sparsity=sparsity, bits=bits))).compressed_bytes
    assert pruned_bytes(model, kept, bits) == exact


def test_frame_bytes_count_the_output_affine_and_the_knots():
    layer = random_kan((3, 2), 0).layers[0]
    assert frame_bytes(layer) == (2 * 2 + layer.grid.numel()) * 4
