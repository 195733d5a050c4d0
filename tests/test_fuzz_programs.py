"""ExecuTorch program files: the checksum beside a program, and which programs get a trial run first."""
from __future__ import annotations

import hashlib

import pytest

from sharekan_core.errors import SharekanError
from sharekan_core.runtime import executorch_export
from sharekan_core.runtime.executorch_export import PTE_IDENTIFIER, check_pte_file, checksum_path, write_program

# Not a real program: these tests stop before anything parses it (the trial run is replaced).
FAKE_PROGRAM = b"\0\0\0\0" + PTE_IDENTIFIER + bytes(range(256))


@pytest.fixture
def trial_runs(monkeypatch):
    """Record trial runs instead of starting a child process."""
    runs = []
    monkeypatch.setattr(executorch_export, "_trial_run", runs.append)
    return runs


def test_written_programs_carry_a_checksum_and_skip_the_trial_run(tmp_path, trial_runs):
    path = tmp_path / "head.pte"
    assert write_program(path, FAKE_PROGRAM) == len(FAKE_PROGRAM)
    digest, name = checksum_path(path).read_text().split()
    assert digest == hashlib.sha256(FAKE_PROGRAM).hexdigest() and name == "head.pte"
    check_pte_file(path)
    assert trial_runs == []


def test_a_changed_program_is_refused_by_its_checksum(tmp_path, trial_runs):
    path = tmp_path / "head.pte"
    write_program(path, FAKE_PROGRAM)
    flipped = bytearray(FAKE_PROGRAM)
    flipped[40] ^= 0x08
    path.write_bytes(bytes(flipped))
    with pytest.raises(SharekanError, match=r"^head.pte: corrupted program \(its bytes do not match head.pte.sha256\)$"):
        check_pte_file(path)
    assert trial_runs == []


def test_foreign_programs_get_a_trial_run(tmp_path, trial_runs):
    path = tmp_path / "foreign.pte"
    path.write_bytes(FAKE_PROGRAM)  # no checksum, not written by this process
    check_pte_file(path)
    assert trial_runs == [path]
    write_program(tmp_path / "other.pte", FAKE_PROGRAM)
    (tmp_path / "copy.pte").write_bytes(FAKE_PROGRAM)  # same bytes, but another file: still tried
    check_pte_file(tmp_path / "copy.pte")
    assert trial_runs == [path, tmp_path / "copy.pte"]


@pytest.mark.parametrize("content", [b"", b"\0" * 100, b"\0\0\0\0ET12"])
def test_not_a_program(tmp_path, content, trial_runs):
    path = tmp_path / "x.pte"
    path.write_bytes(content)
    with pytest.raises(SharekanError, match="not an ExecuTorch program"):
        check_pte_file(path)
    assert trial_runs == []


@pytest.mark.parametrize("probe, detail", [
    ("import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)", "it crashed with SIGSEGV"),
    ("import os\nos.abort()", "it crashed with SIGABRT"),
    ("raise RuntimeError('method->execute() failed with error 0x12')", "method->execute() failed with error 0x12"),
])
def test_a_crash_in_the_trial_run_becomes_one_clean_line(tmp_path, monkeypatch, probe, detail):
    """The child's crash is reported; this process lives on (the real probe loads and runs the program)."""
    monkeypatch.setattr(executorch_export, "_PROBE", probe)
    path = tmp_path / "crash.pte"
    path.write_bytes(FAKE_PROGRAM)
    with pytest.raises(SharekanError) as info:
        check_pte_file(path)
    message = str(info.value)
    assert message.startswith("crash.pte: corrupted or unusable ExecuTorch program") and f"({detail})" in message
    assert "\n" not in message and "RuntimeError" not in message
