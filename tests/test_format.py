"""The compressed file: size equals accounting, byte-identical with one seed, corruption caught."""
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import prototype_kan
from sharekan_core.compression import CompressionConfig, compress
from sharekan_core.errors import SharekanError
from sharekan_core.format import dense_storage, load_compressed, save_compressed, storage_report
from sharekan_core.format.compressed_file import header_nbytes
from sharekan_core.results import compress_and_measure

MAX_HEADER = 16_384


@settings(max_examples=10, deadline=None)
@given(k=st.sampled_from([2, 3, 16, 100, 4096]), bits=st.sampled_from([32, 16, 8, 4]),
       scope=st.sampled_from(["layer", "global"]), seed=st.integers(0, 50))
def test_file_size_equals_accounting(tmp_path_factory, k, bits, scope, seed):
    model = prototype_kan((11, 9, 5), prototypes=20, seed=seed)
    result = compress_and_measure(model, CompressionConfig(codebook_size=k, bits=bits, scope=scope, seed=seed))
    path = tmp_path_factory.mktemp("f") / "m.skan"
    size = save_compressed(result.compressed, path)
    assert size == path.stat().st_size == result.file_bytes
    assert size - result.storage.compressed_bytes == header_nbytes(path)
    assert header_nbytes(path) <= MAX_HEADER


def test_accounting_matches_closed_form(proto_kan):
    """Byte counts follow from K, D, E, bits: computed here independently of the encoder."""
    config = CompressionConfig(codebook_size=4, bits=8, gain_bits=4, codebook_bits=16)
    compressed = compress(proto_kan, config)
    report = storage_report(proto_kan, compressed)
    for index, layer in enumerate(proto_kan.layers):
        out_f, in_f, d = layer.out_features, layer.in_features, layer.num_coefficients
        edges = out_f * in_f
        k_eff = compressed.codebooks[index].shape[0]
        row = report.compressed[str(index)]
        assert row["codebook"] == k_eff * d * 2
        assert row["indices"] == math.ceil(edges * max(1, math.ceil(math.log2(k_eff))) / 8)
        assert row["gains"] == math.ceil(edges * 4 / 8) + 8 * out_f
        assert row["biases"] == edges + 8 * out_f
        assert row["base_weights"] == edges + 8 * out_f
        assert row["scales"] == 8 * out_f
        assert row["grids"] == 4 * in_f * (d + layer.spline_order + 1)
        dense = dense_storage(proto_kan)[str(index)]
        assert sum(dense.values()) == 4 * (edges * (d + 2) + 2 * out_f + in_f * (d + layer.spline_order + 1))
    assert report.ratio == pytest.approx(report.dense_bytes / report.compressed_bytes)


def test_same_seed_gives_identical_bytes(tmp_path):
    model = prototype_kan((20, 16, 6), prototypes=50, seed=1)
    config = CompressionConfig(codebook_size=32, bits=8, seed=7)
    save_compressed(compress(model, config), tmp_path / "a.skan")
    save_compressed(compress(model, config), tmp_path / "b.skan")
    assert (tmp_path / "a.skan").read_bytes() == (tmp_path / "b.skan").read_bytes()


def test_roundtrip_preserves_everything(tmp_path, proto_kan):
    compressed = compress(proto_kan, CompressionConfig(codebook_size=4, bits=4, scope="global"))
    save_compressed(compressed, tmp_path / "m.skan")
    loaded = load_compressed(tmp_path / "m.skan")
    assert loaded.config == compressed.config
    for index in range(len(compressed.layers)):
        np.testing.assert_array_equal(loaded.layer_coefficients(index), compressed.layer_coefficients(index))
        np.testing.assert_array_equal(loaded.layers[index].indices, compressed.layers[index].indices)


@pytest.fixture
def saved(tmp_path, proto_kan):
    path = tmp_path / "m.skan"
    save_compressed(compress(proto_kan, CompressionConfig(codebook_size=4, bits=8)), path)
    return path


def test_truncated_compressed_file(saved, tmp_path):
    blob = saved.read_bytes()
    for cut in (3, 50, len(blob) // 2, len(blob) - 1):
        bad = tmp_path / f"c{cut}.skan"
        bad.write_bytes(blob[:cut])
        with pytest.raises(SharekanError):
            load_compressed(bad)


def test_corrupted_header_fields(saved, tmp_path):
    blob = saved.read_bytes()
    header_len = int.from_bytes(blob[:8], "little")
    header = json.loads(blob[8:8 + header_len])

    def rewrite(mutate, name):
        h = json.loads(json.dumps(header))
        fields = json.loads(h["__metadata__"]["sharekan"])
        mutate(fields)
        h["__metadata__"]["sharekan"] = fields if name == "notstring.skan" else json.dumps(fields)
        text = json.dumps(h).encode()
        text += b" " * (-len(text) % 8)
        path = tmp_path / name
        path.write_bytes(len(text).to_bytes(8, "little") + text + blob[8 + header_len:])
        return path

    def bigger_layer(m):
        m["layers"][0]["shape"][1] += 1

    cases = {
        "layers": bigger_layer,
        "config": lambda m: m.__setitem__("config", {"codebook_size": 1}),
        "version": lambda m: m.__setitem__("version", "99"),
        "codebooks": lambda m: m.__setitem__("codebooks", "{not a list"),
        "bits": lambda m: m["codebooks"][0].__setitem__("bits", 5),
        "notstring": lambda m: None,
    }
    for name, mutate in cases.items():
        with pytest.raises(SharekanError):
            load_compressed(rewrite(mutate, f"{name}.skan"))


def test_dense_model_is_not_a_compressed_file(tmp_path, proto_kan):
    from sharekan_core.io import save_model
    save_model(proto_kan, tmp_path / "d.safetensors")
    with pytest.raises(SharekanError, match="not a compressed"):
        load_compressed(tmp_path / "d.safetensors")


def _restamped(saved, tmp_path, edit):
    """``saved`` re-encoded with its header fields changed by ``edit`` (tensors untouched)."""
    from safetensors.torch import load as load_bytes
    from safetensors.torch import save as save_bytes

    from sharekan_core.io.tensors import HEADER_KEY, encode_header

    blob = saved.read_bytes()
    header_len = int.from_bytes(blob[:8], "little")
    fields = json.loads(json.loads(blob[8:8 + header_len])["__metadata__"][HEADER_KEY])
    edit(fields)
    path = tmp_path / "restamped.skan"
    path.write_bytes(save_bytes(load_bytes(blob), metadata=encode_header(fields)))
    return path


def test_checksum_names_what_changed(saved, tmp_path):
    blob = bytearray(saved.read_bytes())
    blob[-3] ^= 0x10  # inside the last tensor's bytes
    (tmp_path / "payload.skan").write_bytes(bytes(blob))
    with pytest.raises(SharekanError, match="tensor data does not match its checksum"):
        load_compressed(tmp_path / "payload.skan")
    seeded = _restamped(saved, tmp_path, lambda f: f["config"].__setitem__("seed", 7))
    with pytest.raises(SharekanError, match="header fields do not match their checksum"):
        load_compressed(seeded)


def test_files_without_a_checksum_load_with_a_note(saved, tmp_path, caplog):
    old = _restamped(saved, tmp_path, lambda f: f.pop("checksum"))
    loaded = load_compressed(old)
    original = load_compressed(saved)
    np.testing.assert_array_equal(loaded.layer_coefficients(0), original.layer_coefficients(0))
    notes = [r.getMessage() for r in caplog.records if "checksum" in r.getMessage()]
    assert notes == ["note: restamped.skan has no checksum (written before integrity checks); loaded without verifying it"]


@pytest.mark.parametrize("edit, message", [
    (lambda f: f["layers"][0]["bits"].__setitem__("gains", 16), "stored as uint8 but its header says 16 bits"),
    (lambda f: f["layers"][0]["bits"].__setitem__("gains", 12), "bit-widths must be"),
    (lambda f: f["layers"][0]["bits"].__setitem__("gains", 3), "has 120 bytes, expected 45"),
    (lambda f: f["layers"][0].__setitem__("spline_order", -1), "expected 0..10"),
    (lambda f: f["layers"][0].__setitem__("shape", [10.0, 12.0]), "positive integers"),
])
def test_old_files_are_still_validated(saved, tmp_path, edit, message):
    def strip_and_edit(fields):
        fields.pop("checksum")
        edit(fields)

    with pytest.raises(SharekanError, match=message):
        load_compressed(_restamped(saved, tmp_path, strip_and_edit))
