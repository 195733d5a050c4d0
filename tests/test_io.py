"""Importers and the project format: efficient-kan, pykan (a real checkpoint), and bad files."""
import os
import pickle
import signal
import subprocess
import sys
import zipfile

import pytest
import torch
from conftest import pykan_checkpoint
from safetensors.torch import save_file

from sharekan_core.errors import SharekanError
from sharekan_core.io import atomic, load_model, read_model, save_model, write_bytes_atomic


def test_project_format_roundtrip(tmp_path, small_kan):
    path = tmp_path / "m.safetensors"
    save_model(small_kan, path, {"task": "demo"})
    loaded = read_model(path)
    assert loaded.metadata == {"task": "demo"}
    x = torch.randn(16, 8)
    torch.testing.assert_close(loaded.model(x), small_kan(x), rtol=0, atol=0)


@pytest.mark.parametrize("suffix", [".pt", ".safetensors"])
def test_efficient_kan_state_dict(tmp_path, small_kan, suffix):
    state = {k: v for k, v in small_kan.state_dict().items() if "output_" not in k}
    path = tmp_path / f"ek{suffix}"
    if suffix == ".pt":
        torch.save({"state_dict": state}, path)
    else:
        save_file(state, str(path))
    with pytest.raises(SharekanError, match="does not record its base activation"):
        load_model(path)  # a bare state dict could be a GELU or Identity model: never guessed
    model = load_model(path, base_activation="silu")
    x = torch.randn(10, 8)
    torch.testing.assert_close(model(x), small_kan(x), rtol=1e-5, atol=1e-5)


def test_real_pykan_checkpoint(tmp_path):
    reference, samples, _ = pykan_checkpoint(tmp_path)
    with torch.no_grad():
        expected = reference(samples)
    for name in ("pk_state", "pk", "pk_config.yml"):  # the state file, saveckpt's prefix, the config
        loaded = read_model(tmp_path / name)
        assert loaded.source_format == "pykan"
        with torch.no_grad():
            torch.testing.assert_close(loaded.model(samples), expected, rtol=1e-5, atol=1e-5)
    (tmp_path / "pk_state").rename(tmp_path / "moved")
    with pytest.raises(SharekanError, match="pk_config.yml: a pykan config, but its weights file pk_state"):
        read_model(tmp_path / "pk_config.yml")


def test_pykan_symbolic_edges_rejected(tmp_path):
    state = {
        "act_fun.0.coef": torch.zeros(2, 3, 8), "act_fun.0.grid": torch.linspace(-2, 2, 12).expand(2, 12),
        "act_fun.0.mask": torch.ones(2, 3), "act_fun.0.scale_base": torch.ones(2, 3),
        "act_fun.0.scale_sp": torch.ones(2, 3), "symbolic_fun.0.mask": torch.ones(3, 2),
    }
    torch.save(state, tmp_path / "x_state")
    with pytest.raises(SharekanError, match="symbolic"):
        load_model(tmp_path / "x_state")


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /tmp/sharekan_pwned",))


def test_malicious_pickle_is_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"layers.0.spline_weight": _Evil()}, path)
    with pytest.raises(SharekanError, match="contains code or objects other than tensors and was refused") as info:
        load_model(path)
    assert "weights_only" not in str(info.value)
    assert not os.path.exists("/tmp/sharekan_pwned")


def test_plain_pickle_is_refused(tmp_path):
    path = tmp_path / "plain.pkl"
    path.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(SharekanError, match="unknown format"):
        load_model(path)


def test_truncated_files(tmp_path, small_kan):
    path = tmp_path / "m.safetensors"
    save_model(small_kan, path)
    blob = path.read_bytes()
    for cut in (4, 100, len(blob) // 2, len(blob) - 3):
        bad = tmp_path / f"cut{cut}.safetensors"
        bad.write_bytes(blob[:cut])
        with pytest.raises(SharekanError):
            load_model(bad)
    torch.save(small_kan.state_dict(), tmp_path / "m.pt")
    zipped = (tmp_path / "m.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(zipped[: len(zipped) // 2])
    with pytest.raises(SharekanError):
        load_model(tmp_path / "cut.pt")


def test_a_header_length_beyond_the_file_is_refused_without_reading_it(tmp_path):
    from sharekan_core.io.tensors import check_safetensors_header

    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\xff" * 8 + b"{}" + b"\x00" * 4)  # 14 bytes claiming an 18-exabyte header
    with pytest.raises(SharekanError, match="truncated or corrupt"):
        check_safetensors_header(junk)
    with pytest.raises(SharekanError):
        load_model(junk)


def test_nan_coefficients_rejected(tmp_path, small_kan):
    with torch.no_grad():
        small_kan.layers[1].spline_weight[0, 0, 0] = float("nan")
    save_model(small_kan, tmp_path / "nan.safetensors")
    with pytest.raises(SharekanError, match="layers.1.spline_weight contains NaN"):
        load_model(tmp_path / "nan.safetensors")


def test_mismatched_shapes_rejected(tmp_path, small_kan):
    state = dict(small_kan.state_dict())
    state["layers.1.base_weight"] = torch.zeros(3, 5)
    save_file(state, str(tmp_path / "bad.safetensors"))
    with pytest.raises(SharekanError, match="layers.1.base_weight has shape"):
        load_model(tmp_path / "bad.safetensors")
    state = dict(small_kan.state_dict())
    state["layers.1.spline_weight"] = torch.zeros(3, 5, 13)
    save_file(state, str(tmp_path / "bad2.safetensors"))
    with pytest.raises(SharekanError, match="takes 5 inputs"):
        load_model(tmp_path / "bad2.safetensors")


def test_not_a_kan(tmp_path):
    save_file({"weight": torch.zeros(3)}, str(tmp_path / "w.safetensors"))
    with pytest.raises(SharekanError, match="no KAN in this file .* prefixes seen: weight"):
        load_model(tmp_path / "w.safetensors")
    with zipfile.ZipFile(tmp_path / "z.pt", "w") as archive:
        archive.writestr("junk", b"123")
    with pytest.raises(SharekanError):
        load_model(tmp_path / "z.pt")
    with pytest.raises(SharekanError, match="no such file"):
        load_model(tmp_path / "missing.safetensors")


def test_save_is_atomic_when_it_fails(tmp_path, small_kan, monkeypatch):
    target = tmp_path / "keep.safetensors"
    target.write_bytes(b"previous")
    def explode(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(atomic.os, "replace", explode)  # fails at the rename, after the bytes are written
    with pytest.raises(RuntimeError):
        save_model(small_kan, target)
    assert target.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.safetensors"]


def test_outputs_get_umask_permissions(tmp_path, small_kan):
    previous = os.umask(0o022)
    try:
        save_model(small_kan, tmp_path / "m.safetensors")
    finally:
        os.umask(previous)
    assert (tmp_path / "m.safetensors").stat().st_mode & 0o777 == 0o644


def test_existing_output_keeps_its_permissions(tmp_path):
    target = tmp_path / "secret.bin"
    target.write_bytes(b"old")
    target.chmod(0o600)
    write_bytes_atomic(target, b"new")
    assert target.read_bytes() == b"new" and target.stat().st_mode & 0o777 == 0o600


def test_symlink_output_is_written_through(tmp_path):
    real = tmp_path / "real.bin"
    real.write_bytes(b"old")
    link = tmp_path / "link.bin"
    link.symlink_to(real)
    write_bytes_atomic(link, b"new")
    assert link.is_symlink() and real.read_bytes() == b"new"


@pytest.mark.parametrize("target", ["", "/dev/null", "FOLDER", "INPUT"])
def test_unusable_outputs_refused(tmp_path, target):
    source = tmp_path / "input.bin"
    source.write_bytes(b"input")
    target = {"FOLDER": str(tmp_path), "INPUT": str(source)}.get(target, target)
    with pytest.raises(SharekanError, match="empty|folder|device|input file itself"):
        write_bytes_atomic(target, b"x", inputs=[source])
    assert source.read_bytes() == b"input" and not list(tmp_path.glob(f"*{atomic.PART_MARK}*"))


def test_sigterm_during_a_write_removes_the_temporary_file(tmp_path):
    class Stopped(Exception):
        pass

    def stop(signum, frame):
        raise Stopped

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        with pytest.raises(Stopped):
            with atomic.atomic_path(tmp_path / "out.bin") as tmp:
                tmp.write_bytes(b"half")
                os.kill(os.getpid(), signal.SIGTERM)
        assert signal.getsignal(signal.SIGTERM) is stop  # the previous handler is back
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert list(tmp_path.iterdir()) == []


def test_killed_writer_leaves_nothing_once_the_next_write_starts(tmp_path):
    code = ("import os, signal, sys\nfrom sharekan_core.io.atomic import atomic_path\n"
            "with atomic_path(sys.argv[1]) as tmp:\n    tmp.write_bytes(b'half')\n"
            "    os.kill(os.getpid(), signal.SIGKILL)\n")
    child = subprocess.run([sys.executable, "-c", code, str(tmp_path / "out.bin")])
    assert child.returncode == -signal.SIGKILL
    stale = list(tmp_path.glob(f"*{atomic.PART_MARK}*"))
    assert len(stale) == 1 and not (tmp_path / "out.bin").exists()
    live = tmp_path / f".other.bin{atomic.PART_MARK}{os.getpid()}-x"  # a writer still running: kept
    live.write_bytes(b"busy")
    assert atomic.remove_stale_parts(tmp_path) == stale
    assert live.exists() and not stale[0].exists()
