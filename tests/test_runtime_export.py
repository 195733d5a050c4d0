"""ExecuTorch export: the .pte takes any batch up to its maximum and equals predict, the CLI writes it, bad programs
give a clean error."""
import json
import subprocess
import sys

import pytest
import torch

from conftest import prototype_kan
from sharekan_core.compression import CompressionConfig, compress
from sharekan_core.errors import SharekanError
from sharekan_core.format import save_compressed
from sharekan_core.runtime import load_runnable
from sharekan_core.runtime.executorch_export import DEFAULT_MAX_BATCH, export_pte, load_pte


@pytest.fixture(scope="module")
def compressed_pte(tmp_path_factory):
    """A small compressed head (K = 8: the eager route changes with the batch) saved, loaded and exported."""
    folder = tmp_path_factory.mktemp("pte")
    compressed = compress(prototype_kan((12, 10, 4), prototypes=5), CompressionConfig(codebook_size=8, bits=8))
    save_compressed(compressed, folder / "head.skan")
    runnable = load_runnable(folder / "head.skan")  # what 'predict' runs
    export_pte(runnable.program_module(), 12, folder / "head.pte", xnnpack=True)  # what 'export' writes
    return runnable.module, folder / "head.pte"


def relative_error(actual: torch.Tensor, expected: torch.Tensor) -> float:
    return float((actual - expected).abs().max() / expected.abs().max())


def test_dynamic_batch_program_equals_predict(compressed_pte):
    module, path = compressed_pte
    program = load_pte(path)
    assert program.dynamic and program.batch == DEFAULT_MAX_BATCH
    generator = torch.Generator().manual_seed(0)
    for batch in (1, 32, DEFAULT_MAX_BATCH, DEFAULT_MAX_BATCH + 3):  # the last runs as two pieces
        x = torch.rand(batch, 12, generator=generator) * 3.2 - 1.6  # inside and outside the grid
        with torch.no_grad():
            expected = module(x)
        assert program(x).shape == (batch, 4)
        assert relative_error(program(x), expected) <= 1e-5, batch
    with pytest.raises(SharekanError, match=r"\(batch, 12\)"):
        program(torch.zeros(2, 5))


def test_max_batch_is_validated(tmp_path):
    with pytest.raises(SharekanError, match="max batch"):
        export_pte(torch.nn.Identity(), 3, tmp_path / "x.pte", max_batch=0)


def test_truncated_or_foreign_pte_is_a_clean_error(compressed_pte, tmp_path):
    _, path = compressed_pte
    truncated = tmp_path / "cut.pte"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 3])
    foreign = tmp_path / "x.pte"
    foreign.write_bytes(b"not a program" * 20)
    for bad, words in ((truncated, r"corrupted program \(truncated: its header declares"),
                       (foreign, "not an ExecuTorch program")):
        with pytest.raises(SharekanError, match=words):
            load_pte(bad)  # both refused from their first bytes, before any trial run
    copied = tmp_path / "copied.pte"  # bytes this process did not write: a real trial run in a child process first
    copied.write_bytes(path.read_bytes())
    assert load_pte(copied).batch == DEFAULT_MAX_BATCH


def test_cli_export_dense(tmp_path, capsys):
    """With XNNPACK, as the studio exports: its delegate once crashed on the dense bases at batch 8."""
    from sharekan_core.io import save_model

    save_model(prototype_kan((6, 5, 3), prototypes=3), tmp_path / "m.safetensors")
    status, out, err = run_cli(capsys, "export", tmp_path / "m.safetensors", "--pte", tmp_path / "m.pte",
                               "--max-batch", 8, "--xnnpack")  # in this process: a child would import torch again
    assert status == 0, err
    report = json.loads(out)
    assert report["pte_bytes"] == (tmp_path / "m.pte").stat().st_size and report["kind"] == "dense"
    assert report["max_batch"] == 8 and report["max_relative_difference_vs_eager"] < 1e-5
    assert not list(tmp_path.glob("*.part"))


def test_cli_cache_report(tmp_path):
    compressed = compress(prototype_kan((6, 5, 3), prototypes=3), CompressionConfig(codebook_size=4))
    save_compressed(compressed, tmp_path / "c.skan")
    run = subprocess.run([sys.executable, "-m", "sharekan_core", "cache", str(tmp_path / "c.skan")],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert {"host_caches", "layers", "head", "parts"} <= set(report)
    per_call = {row["form"]: row for row in report["per_call_batch_1"]}
    assert per_call["dense, pre-scaled eager"]["streamed_bytes_per_edge"] == 56
    assert per_call["compressed, fused kernel"]["streamed_bytes_per_edge"] == 4  # K = 4: 1 B index, 3 Int8 codes


def run_cli(capsys, *args) -> tuple[int, str, str]:
    """Run one command in this process; return (exit status, stdout, stderr)."""
    from sharekan_core.cli.main import main

    status = main([str(a) for a in args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def assert_one_error_line(status: int, err: str, fragment: str) -> None:
    lines = err.strip().splitlines()
    assert status == 2 and len(lines) == 1 and lines[0].startswith("error:") and fragment in lines[0], err
    assert "internal error" not in err and "Traceback" not in err


def test_cli_exports_an_int4_compression_equal_to_predict(tmp_path, capsys):
    """Every Int4 export used to end in 'internal error (SpecViolationError: aten.__rshift__.Scalar ...)'."""
    compressed = compress(prototype_kan((5, 3, 2), prototypes=3), CompressionConfig(codebook_size=8, bits=4))
    save_compressed(compressed, tmp_path / "c.skan")
    status, out, err = run_cli(capsys, "export", tmp_path / "c.skan", "--pte", tmp_path / "c.pte", "--max-batch", 8)
    assert status == 0, err
    report = json.loads(out)
    assert report["kind"] == "compressed" and report["pte_bytes"] == (tmp_path / "c.pte").stat().st_size
    assert report["source_bytes"] == (tmp_path / "c.skan").stat().st_size
    assert report["max_relative_difference_vs_eager"] < 1e-3


def test_cli_export_of_a_bad_file_is_one_error_line_and_writes_nothing(tmp_path, capsys):
    compressed = compress(prototype_kan((5, 3), prototypes=3), CompressionConfig(codebook_size=4, bits=4))
    save_compressed(compressed, tmp_path / "c.skan")
    (tmp_path / "cut.skan").write_bytes((tmp_path / "c.skan").read_bytes()[:-40])
    status, _, err = run_cli(capsys, "export", tmp_path / "cut.skan", "--pte", tmp_path / "c.pte")
    assert_one_error_line(status, err, "cut.skan")
    assert not list(tmp_path.glob("*.pte*"))


def test_a_graph_executorch_cannot_lower_is_one_error_line(tmp_path, capsys, monkeypatch):
    """Whatever ExecuTorch refuses (here the rshift error as it was raised) reaches the user as one line."""
    import executorch.exir

    def refuse(*args, **kwargs):
        raise RuntimeError("\nOperator torch._ops.aten.__rshift__.Scalar is not in Core ATen opset.")

    monkeypatch.setattr(executorch.exir, "to_edge_transform_and_lower", refuse)
    compressed = compress(prototype_kan((5, 3), prototypes=3), CompressionConfig(codebook_size=4, bits=4))
    save_compressed(compressed, tmp_path / "c.skan")
    status, _, err = run_cli(capsys, "export", tmp_path / "c.skan", "--pte", tmp_path / "c.pte")
    assert_one_error_line(status, err, "ExecuTorch could not lower this model (RuntimeError: Operator "
                                       "torch._ops.aten.__rshift__.Scalar is not in Core ATen opset.)")
    assert not list(tmp_path.glob("*.pte*"))


def test_a_failing_runtime_call_is_a_sharekan_error(tmp_path):
    from sharekan_core.runtime.executorch_export import PteProgram

    class Refusing:
        def execute(self, inputs):
            raise RuntimeError("method->execute() failed with error 0x12")

    program = PteProgram(tmp_path / "p.pte", Refusing(), batch=4, in_features=3, dynamic=True)
    with pytest.raises(SharekanError, match=r"p.pte: the ExecuTorch runtime failed \(method->execute\(\) failed"):
        program(torch.zeros(2, 3))
