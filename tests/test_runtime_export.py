"""ExecuTorch export: the .pte equals eager, the CLI writes it, bad programs give a clean error."""
import json
import subprocess
import sys

import pytest
import torch

from conftest import prototype_kan
from sharekan_core.compress import CompressionConfig, compress
from sharekan_core.errors import SharekanError
from sharekan_core.format import save_compressed
from sharekan_core.runtime import CompressedDomainKAN
from sharekan_core.runtime.executorch_export import export_pte, load_pte


@pytest.fixture(scope="module")
def compressed_pte(tmp_path_factory):
    compressed = compress(prototype_kan((12, 10, 4), prototypes=5), CompressionConfig(codebook_size=8, bits=8))
    module = CompressedDomainKAN(compressed)
    path = tmp_path_factory.mktemp("pte") / "head.pte"
    export_pte(module, 12, path, batch=4, xnnpack=True)
    return module, path


def test_compressed_pte_equals_eager(compressed_pte):
    module, path = compressed_pte
    program = load_pte(path)
    x = torch.rand(9, 12) * 3.2 - 1.6  # 9 rows through a batch-4 program: pieces and padding
    with torch.no_grad():
        torch.testing.assert_close(program(x), module(x), rtol=1e-5, atol=1e-5)
    with pytest.raises(SharekanError, match=r"\(batch, 12\)"):
        program(torch.zeros(2, 5))


def test_truncated_or_foreign_pte_is_a_clean_error(compressed_pte, tmp_path):
    _, path = compressed_pte
    truncated = tmp_path / "cut.pte"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 3])
    foreign = tmp_path / "x.pte"
    foreign.write_bytes(b"not a program" * 20)
    code = ("import sys\nfrom sharekan_core.runtime.executorch_export import load_pte\n"
            "from sharekan_core.errors import SharekanError\n"
            "try:\n    load_pte(sys.argv[1])\nexcept SharekanError as e:\n    print(e)\n")
    for bad, words in ((truncated, "corrupted or truncated"), (foreign, "not an ExecuTorch program")):
        run = subprocess.run([sys.executable, "-c", code, str(bad)], capture_output=True, text=True, timeout=120)
        assert run.returncode == 0 and words in run.stdout, run.stderr


def test_cli_export_dense(tmp_path):
    from sharekan_core.io import save_model

    save_model(prototype_kan((6, 5, 3), prototypes=3), tmp_path / "m.safetensors")
    run = subprocess.run([sys.executable, "-m", "sharekan_core", "export", str(tmp_path / "m.safetensors"),
                          "--pte", str(tmp_path / "m.pte"), "--batch", "2"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["pte_bytes"] == (tmp_path / "m.pte").stat().st_size and report["kind"] == "dense"
    assert report["max_abs_difference_vs_eager"] < 1e-5
    assert not list(tmp_path.glob("*.part"))


def test_cli_cache_report(tmp_path):
    compressed = compress(prototype_kan((6, 5, 3), prototypes=3), CompressionConfig(codebook_size=4))
    save_compressed(compressed, tmp_path / "c.skan")
    run = subprocess.run([sys.executable, "-m", "sharekan_core", "cache", str(tmp_path / "c.skan")],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert {"host_caches", "layers", "head", "parts"} <= set(json.loads(run.stdout))
