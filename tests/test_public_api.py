"""The package root's public API: names, a round trip through it, and a light import."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

import sharekan_core as sk
from sharekan_core.errors import SharekanError


def test_root_exports_the_documented_names():
    for name in ("load_model", "compress", "CompressionConfig", "save_compressed", "load_compressed", "decompress",
                 "compress_", "calibration_from", "compressed_state_dict", "load_compressed_into",
                 "decompressed_state_dict"):
        assert callable(getattr(sk, name)), name
        assert getattr(sk, name).__doc__, f"{name} has no docstring"
    with pytest.raises(AttributeError):
        sk.no_such_name  # noqa: B018


def test_round_trip_through_the_root_api(tmp_path, proto_kan):
    path = tmp_path / "model.safetensors"
    sk.save_model(proto_kan, path)
    model = sk.load_model(path)
    compressed = sk.compress(model, sk.CompressionConfig(codebook_size=8, bits=32))
    sk.save_compressed(compressed, tmp_path / "model.skan")
    rebuilt = sk.decompress(sk.load_compressed(tmp_path / "model.skan"))
    x = torch.rand(16, 12) * 2 - 1
    with torch.no_grad():
        expected, got = proto_kan(x).numpy(), rebuilt(x).numpy()
    # 5 prototype shapes, K = 8, FP32: the reconstruction is exact up to float rounding
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_the_compressed_head_runs_from_the_root_api(tmp_path, proto_kan):
    """``sk.CompressedDomainKAN(sk.load_compressed(path))`` is a module on tensors, run by the fused kernels."""
    compressed = sk.compress(proto_kan, sk.CompressionConfig(codebook_size=8, bits=8))
    sk.save_compressed(compressed, tmp_path / "model.skan")
    head = sk.CompressedDomainKAN(sk.load_compressed(tmp_path / "model.skan"))
    x = torch.rand(5, 12) * 2 - 1
    assert isinstance(head, torch.nn.Module) and head.runs_fused(x)
    with torch.no_grad():
        got, expected = head(x).numpy(), sk.decompress(compressed)(x).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-3 * np.abs(expected).max())
    runnable = sk.load_runnable(tmp_path / "model.skan")
    assert runnable.kind == "compressed" and isinstance(runnable.module, sk.CompressedDomainKAN)


def test_compress_refuses_an_unknown_config(proto_kan):
    with pytest.raises(SharekanError):
        sk.compress(proto_kan, object())


def test_root_compress_stays_the_function_once_the_compression_package_is_imported():
    """The package is ``compression``, so importing it no longer rebinds the root's ``compress``."""
    code = ("import types, sharekan_core as sk, sharekan_core.compression.api, sharekan_core.compression; "
            "print(isinstance(sk.compress, types.FunctionType), sk.compress is sharekan_core.compression.compress)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["True", "True"]


def test_the_old_sharekan_function_name_warns_and_still_compresses(proto_kan):
    from sharekan_core.compression import compress_sharekan
    config = sk.CompressionConfig(codebook_size=8, bits=8)
    with pytest.warns(DeprecationWarning, match="compress_sharekan"):
        from sharekan_core.compression.compressor import compress as old_compress
    assert old_compress is compress_sharekan
    assert old_compress(proto_kan, config).num_edges == sk.compress(proto_kan, config).num_edges


def test_importing_the_package_does_not_import_torch():
    code = "import sys, sharekan_core; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
