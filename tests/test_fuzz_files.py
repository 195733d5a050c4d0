"""Hostile files against the command line: each case ends in a correct result or one clean `error:` line, exit 2.

Cases run in-process through ``main(argv)``; the memory bombs run in one child process under a
2 GiB address-space limit. With SHAREKAN_RELIABILITY_SUMMARY=PATH set, the tally of all cases is
written there as JSON (``scripts/reliability_summary.py`` does this for assets/reliability/).
"""
from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import re
import struct
import subprocess
import sys
import zipfile
import zlib
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import load as load_bytes
from safetensors.torch import save as save_bytes

from conftest import prototype_kan
from sharekan_core.cli.main import main
from sharekan_core.compression import CompressionConfig, UniformConfig, compress
from sharekan_core.compression.packing import pack_bits, unpack_bits
from sharekan_core.format.compressed_file import encode_compressed
from sharekan_core.format.integrity import CHECKSUM_FIELD, checksum
from sharekan_core.format.multihead_file import encode_multihead
from sharekan_core.io import save_model
from sharekan_core.io.atomic import PART_MARK
from sharekan_core.io.tensors import HEADER_KEY, encode_header

TALLY: Counter = Counter()
MARKER = Path("/tmp/sharekan_fuzz_code_ran")
def fuzz(examples: int) -> settings:
    """Repeatable hypothesis settings: the same cases on every run, so the summary's counts are stable."""
    return settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))
CLASS_NAME = re.compile(r"\b[A-Z]\w*(Error|Exception|Warning)\b")


class _Evil:
    def __reduce__(self):
        return (os.system, (f"touch {MARKER}",))


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """A small dense model, its compressed file, an input batch and reference outputs."""
    root = tmp_path_factory.mktemp("fuzz")
    model = prototype_kan((6, 5, 3), prototypes=4)
    save_model(model, root / "dense.safetensors")
    torch.save(model.state_dict(), root / "dense.pt")
    compressed = compress(model, CompressionConfig(codebook_size=8, bits=8))
    blob = encode_compressed(compressed)
    (root / "model.skan").write_bytes(blob)
    (root / "bundle.safetensors").write_bytes(encode_multihead([compressed, copy.deepcopy(compressed)]))
    np.save(root / "x.npy", np.random.default_rng(0).uniform(-1, 1, (4, 6)).astype(np.float32))
    code, _, err = run(["predict", str(root / "model.skan"), "--input", str(root / "x.npy"), "--out", str(root / "y.npy")])
    assert code == 0, err
    code, described, err = run(["inspect", str(root / "model.skan")])
    assert code == 0, err
    code, bundle_described, err = run(["inspect", str(root / "bundle.safetensors")])
    assert code == 0, err
    return {"root": root, "blob": blob, "reference": np.load(root / "y.npy"), "described": described,
            "bundle_described": bundle_described}


@pytest.fixture(scope="module", autouse=True)
def summary():
    """Write the tally when asked (see the module docstring)."""
    MARKER.unlink(missing_ok=True)
    yield
    target = os.environ.get("SHAREKAN_RELIABILITY_SUMMARY")
    if target:
        document = {"cases": sum(TALLY[k] for k in ("clean_error", "correct_result")), **TALLY,
                    "code_executed": int(MARKER.exists())}
        for key in ("clean_error", "correct_result", "half_written", "unclean"):
            document.setdefault(key, 0)
        Path(target).write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")


def run(argv: list[str]) -> tuple[int, str, str]:
    """Run the CLI in-process; return (status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def expect_clean(argv: list[str], allow_success: bool = False, output: Path | None = None, check=None) -> int:
    """Run ``argv``; it must exit 2 with one plain `error:` line, or 0 if allowed and ``check(stdout)`` passes.

    No partial output may be left either way. Success counts as a correct result only when checked.
    """
    code, stdout, err = run(argv)
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("note: ")]
    if code == 0 and allow_success:
        check(stdout)
        TALLY["correct_result"] += 1
    else:
        clean = (code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and "internal error" not in lines[0]
                 and not CLASS_NAME.search(lines[0]) and not re.search(r"(\S+): \1:", lines[0])
                 and "weights_only" not in lines[0])
        TALLY["clean_error" if clean else "unclean"] += 1
        assert clean, f"{argv}: status {code}, stderr {err!r}"
    if output is not None:
        leftovers = [p for p in output.parent.iterdir() if PART_MARK in p.name]
        partial = code != 0 and output.exists()
        TALLY["half_written"] += len(leftovers) + int(partial)
        assert not leftovers and not partial, f"{argv} left {leftovers or output}"
    return code


def predict_argv(work: dict, model: Path) -> tuple[list[str], Path]:
    out = work["root"] / "fuzz_out.npy"
    out.unlink(missing_ok=True)
    return ["predict", str(model), "--input", str(work["root"] / "x.npy"), "--out", str(out)], out


def same_outputs(work: dict, out: Path) -> None:
    np.testing.assert_array_equal(np.load(out), work["reference"])


def same_text(expected: str, got: str) -> None:
    assert got == expected


def restamp(blob: bytes, edit, keep_checksum: bool, retensor=None) -> bytes:
    """Re-encode ``blob`` with its header changed by ``edit`` (and its tensors by ``retensor``, if given);
    a re-computed checksum stands for a careful forger."""
    tensors = load_bytes(blob)
    header_len = struct.unpack("<Q", blob[:8])[0]
    fields = json.loads(json.loads(blob[8:8 + header_len])["__metadata__"][HEADER_KEY])
    edit(fields)
    if retensor is not None:
        retensor(tensors)
    fields.pop(CHECKSUM_FIELD, None)
    if keep_checksum:
        fields[CHECKSUM_FIELD] = checksum(fields, {name: t.numpy() for name, t in tensors.items()})
    return save_bytes(tensors, metadata=encode_header(fields))


def header_leaves(fields: dict) -> list[tuple]:
    """(container, key) of every number, string or list in the codebooks, layers, config and version."""
    leaves = [(fields, "version"), (fields, "format")]

    def walk(node):
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in items:
            leaves.append((node, key))
            if isinstance(value, (dict, list)):
                walk(value)
    for key in ("config", "codebooks", "layers"):
        walk(fields[key])
    return leaves


HOSTILE_VALUES = st.one_of(
    st.integers(-2**40, 2**40), st.sampled_from([0, 1, 2, 3, 5, 6, 7, 9, 64, 2**31, 2**63]),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=4), st.none(), st.booleans(),
    st.lists(st.integers(-3, 2**33), max_size=3), st.lists(st.floats(0.5, 4.5), min_size=2, max_size=2))


@fuzz(120)
@given(choice=st.integers(0, 10_000), value=HOSTILE_VALUES, keep_checksum=st.booleans())
def test_crafted_compressed_headers(work, choice, value, keep_checksum):
    def edit(fields):
        leaves = header_leaves(fields)
        container, key = leaves[choice % len(leaves)]
        container[key] = value

    path = work["root"] / "crafted.skan"
    path.write_bytes(restamp(work["blob"], edit, keep_checksum))
    argv, out = predict_argv(work, path)
    expect_clean(argv, allow_success=True, output=out, check=lambda _: same_outputs(work, out))
    expect_clean(["inspect", str(path)], allow_success=True, check=lambda text: same_text(work["described"], text))


@pytest.mark.parametrize("bits", [1, 2, 3, 6, 64, 16.0, "8"])
@pytest.mark.parametrize("component", ["gains", "biases", "base_weights"])
def test_bit_widths_outside_the_format(work, bits, component):
    def edit(fields):
        fields["layers"][0]["bits"][component] = bits

    path = work["root"] / "bits.skan"
    path.write_bytes(restamp(work["blob"], edit, keep_checksum=True))
    argv, out = predict_argv(work, path)
    assert expect_clean(argv, output=out) == 2


@pytest.mark.parametrize("edit", [
    lambda f: f["layers"][0].__setitem__("spline_order", -1),
    lambda f: f["layers"][0].__setitem__("shape", [5.0, 6.0]),
    lambda f: f["layers"][0].__setitem__("shape", [2**20, 2**20]),
    lambda f: f["codebooks"][0].__setitem__("shape", [8, 2**20]),
    lambda f: f["layers"][0]["bits"].__setitem__("gains", 16),
], ids=["order-1", "float-shape", "huge-layer", "huge-D", "bits16-over-uint8"])
def test_inconsistent_headers_refused(work, edit):
    path = work["root"] / "edited.skan"
    path.write_bytes(restamp(work["blob"], edit, keep_checksum=True))
    argv, out = predict_argv(work, path)
    assert expect_clean(argv, output=out) == 2


def repacked(name: str, bits: int):
    """A tensor edit re-packing an 8-bit payload's codes at ``bits`` bits (low bits kept), so its byte count
    matches a header that declares ``bits``: a forger's way past the size check."""
    def retensor(tensors):
        codes = unpack_bits(tensors[name].numpy(), 8, tensors[name].numel())
        tensors[name] = torch.from_numpy(pack_bits(codes % (1 << bits), bits))
    return retensor


def negated_step(tensors):
    tensors["layers.0.gains.step"] = -tensors["layers.0.gains.step"]


def declared(component: str, layer: int, bits: int):
    return lambda f: f["layers"][layer]["bits"].__setitem__(component, bits)


# Crafted files the reader once accepted (an internal error, or wrong outputs with exit 0).
FORGED = {
    "gains-width-omitted": (lambda f: f["layers"][0]["bits"].pop("gains"), None),
    "biases-width-omitted": (lambda f: f["layers"][1]["bits"].pop("biases"), None),
    "order-0-layer": (lambda f: f["layers"][0].__setitem__("spline_order", 0),
                      lambda t: t.__setitem__("layers.0.grid", t["layers.0.grid"][:, :14].clone())),
    "6-bit-codebook": (lambda f: f["codebooks"][0].__setitem__("bits", 6), repacked("codebooks.0.payload", 6)),
    "2-bit-gains": (declared("gains", 0, 2), repacked("layers.0.gains.payload", 2)),
    "3-bit-gains": (declared("gains", 1, 3), repacked("layers.1.gains.payload", 3)),
    "4-bit-biases": (declared("biases", 0, 4), repacked("layers.0.biases.payload", 4)),
    "another-layer's-codebook": (lambda f: f["layers"][0].__setitem__("codebook", 1), None),
    "negative-step": (lambda f: None, negated_step),
}


@pytest.mark.parametrize("keep_checksum", [True, False], ids=["forged-checksum", "no-checksum"])
@pytest.mark.parametrize("name", sorted(FORGED))
def test_declared_widths_orders_and_codebooks_checked_against_the_tensors(work, name, keep_checksum):
    edit, retensor = FORGED[name]
    path = work["root"] / "forged.skan"
    path.write_bytes(restamp(work["blob"], edit, keep_checksum, retensor))
    argv, out = predict_argv(work, path)
    assert expect_clean(argv, output=out) == 2
    assert expect_clean(["inspect", str(path)]) == 2


def test_per_edge_widths_checked_against_the_config(work):
    """A uniform 4-bit file whose header declares 3-bit coefficients (codes re-packed to match) is refused."""
    blob = encode_compressed(compress(prototype_kan((6, 5, 3), prototypes=4), UniformConfig(bits=4)))
    path = work["root"] / "uniform_forged.skan"
    for keep_checksum in (True, False):
        def edit(fields):
            fields["layers"][0]["coefficients"]["bits"] = 3
        def retensor(tensors):
            name = "layers.0.coefficients.payload"
            codes = unpack_bits(tensors[name].numpy(), 4, 5 * 6 * 13)
            tensors[name] = torch.from_numpy(pack_bits(codes % 8, 3))
        path.write_bytes(restamp(blob, edit, keep_checksum, retensor))
        assert expect_clean(["inspect", str(path)]) == 2


def test_bundle_head_naming_another_layers_codebook_refused(work):
    def edit(fields):
        fields["heads"][1]["layers"][0]["codebook"] = 1
    path = work["root"] / "forged_bundle.safetensors"
    path.write_bytes(restamp((work["root"] / "bundle.safetensors").read_bytes(), edit, keep_checksum=True))
    assert expect_clean(["inspect", str(path)]) == 2


@fuzz(40)
@given(choice=st.integers(0, 1000), dtype=st.sampled_from([torch.bfloat16, torch.float64, torch.float16, torch.float32,
                                                          torch.int8, torch.int32, torch.int64, torch.uint8, torch.bool]))
def test_crafted_tensor_dtypes(work, choice, dtype):
    """One stored tensor re-typed, in a file without a checksum (the older-file path, validated all the same)."""
    tensors = load_bytes(work["blob"])
    name = sorted(tensors)[choice % len(tensors)]
    tensors[name] = tensors[name].to(dtype)
    header_len = struct.unpack("<Q", work["blob"][:8])[0]
    fields = json.loads(json.loads(work["blob"][8:8 + header_len])["__metadata__"][HEADER_KEY])
    fields.pop(CHECKSUM_FIELD)
    path = work["root"] / "retyped.skan"
    path.write_bytes(save_bytes(tensors, metadata=encode_header(fields)))
    argv, out = predict_argv(work, path)
    expect_clean(argv, allow_success=True, output=out, check=lambda _: same_outputs(work, out))


def test_non_finite_scales_refused(work):
    tensors = load_bytes(work["blob"])
    header_len = struct.unpack("<Q", work["blob"][:8])[0]
    fields = json.loads(json.loads(work["blob"][8:8 + header_len])["__metadata__"][HEADER_KEY])
    for name, bad in (("layers.0.output_scale", np.nan), ("layers.1.output_bias", np.inf), ("layers.0.gains.step", np.nan)):
        changed = dict(tensors)
        changed[name] = tensors[name].clone()
        changed[name][0] = bad
        fields[CHECKSUM_FIELD] = checksum({k: v for k, v in fields.items() if k != CHECKSUM_FIELD},
                                          {k: v.numpy() for k, v in changed.items()})
        path = work["root"] / "nonfinite.skan"
        path.write_bytes(save_bytes(changed, metadata=encode_header(fields)))
        argv, out = predict_argv(work, path)
        assert expect_clean(argv, output=out) == 2


def structural_cuts(blob: bytes) -> list[int]:
    """Offsets where a safetensors file's parts meet: length prefix, header end, every tensor's start and end."""
    header_len = struct.unpack("<Q", blob[:8])[0]
    entries = json.loads(blob[8:8 + header_len])
    cuts = {0, 1, 4, 7, 8, 9, 8 + header_len // 2, 8 + header_len - 1, 8 + header_len, len(blob) - 1}
    for name, entry in entries.items():
        if name != "__metadata__":
            begin, end = entry["data_offsets"]
            cuts.update({8 + header_len + begin, 8 + header_len + end - 1})
    return sorted(c for c in cuts if c < len(blob))


@pytest.mark.parametrize("kind", ["compressed", "dense"])
def test_truncation_at_every_boundary(work, kind):
    source = work["root"] / ("model.skan" if kind == "compressed" else "dense.safetensors")
    blob = source.read_bytes()
    for cut in structural_cuts(blob):
        path = work["root"] / f"cut_{kind}.safetensors"
        path.write_bytes(blob[:cut])
        assert expect_clean(["inspect", str(path)]) == 2


def test_torch_zip_truncated_at_every_entry(work):
    blob = (work["root"] / "dense.pt").read_bytes()
    with zipfile.ZipFile(work["root"] / "dense.pt") as archive:
        cuts = sorted({0, 2, len(blob) - 22, len(blob) - 1} | {info.header_offset for info in archive.infolist()}
                      | {info.header_offset + 30 for info in archive.infolist()})
    for cut in cuts:
        path = work["root"] / "cut.pt"
        path.write_bytes(blob[:cut])
        assert expect_clean(["inspect", str(path)]) == 2


@fuzz(150)
@given(bit=st.integers(min_value=0))
def test_bit_flips_refused_or_harmless(work, bit):
    blob = bytearray(work["blob"])
    position = bit % (len(blob) * 8)
    blob[position // 8] ^= 1 << (position % 8)
    path = work["root"] / "flipped.skan"
    path.write_bytes(bytes(blob))
    argv, out = predict_argv(work, path)
    expect_clean(argv, allow_success=True, output=out, check=lambda _: same_outputs(work, out))


@fuzz(60)
@given(bit=st.integers(min_value=0))
def test_bundle_bit_flips_refused_or_harmless(work, bit):
    blob = bytearray((work["root"] / "bundle.safetensors").read_bytes())
    position = bit % (len(blob) * 8)
    blob[position // 8] ^= 1 << (position % 8)
    path = work["root"] / "flipped_bundle.safetensors"
    path.write_bytes(bytes(blob))
    expect_clean(["inspect", str(path)], allow_success=True, check=lambda text: same_text(work["bundle_described"], text))


def test_code_in_checkpoints_never_runs(work):
    path = work["root"] / "evil.pt"
    torch.save({"layers.0.spline_weight": _Evil()}, path)
    assert expect_clean(["inspect", str(path)]) == 2
    assert not MARKER.exists()


def pykan_files(folder: Path, config: bytes) -> Path:
    """A two-layer pykan checkpoint ({prefix}_state) with ``config`` as its _config.yml."""
    state = {}
    for layer, (n_in, n_out) in enumerate(((2, 3), (3, 1))):
        state.update({f"act_fun.{layer}.coef": torch.zeros(n_in, n_out, 8),
                      f"act_fun.{layer}.grid": torch.linspace(-2, 2, 12).expand(n_in, 12).clone(),
                      f"act_fun.{layer}.mask": torch.ones(n_in, n_out), f"act_fun.{layer}.scale_base": torch.ones(n_in, n_out),
                      f"act_fun.{layer}.scale_sp": torch.ones(n_in, n_out), f"subnode_scale_{layer}": torch.ones(n_out),
                      f"subnode_bias_{layer}": torch.zeros(n_out), f"node_scale_{layer}": torch.ones(n_out),
                      f"node_bias_{layer}": torch.zeros(n_out)})
    torch.save(state, folder / "pk_state")
    (folder / "pk_config.yml").write_bytes(config)
    return folder / "pk_state"


HOSTILE_YAML = {
    "not-utf8": b"width: [2, 3, 1]\nname: \xff\xfe\xfa\n",
    "nested-5000": b"width: " + b"[" * 5000 + b"]" * 5000 + b"\n",
    "width-scalar": b"width: 5\n",
    "width-strings": b"width: ['a', 'b']\n",
    "width-negative": b"width: [2, -3, 1]\n",
    "python-tag": f"width: !!python/object/apply:os.system ['touch {MARKER}']\n".encode(),
    "alias-bomb": b"a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                  b"c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                  b"width: [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n",
    "not-a-mapping": b"- 1\n- 2\n",
    "broken-yaml": b"width: [2, 3\n",
    "binary": bytes(range(256)) * 4,
    "base-fun": b"width: [2, 3, 1]\nbase_fun_name: !!binary aGVsbG8=\n",
}


def billion_laughs(levels: int = 9) -> bytes:
    """A config whose width is nine lists of nine ... (``levels`` deep) through aliases: 9**levels values."""
    lines = ["a0: &a0 [2, 2, 2, 2, 2, 2, 2, 2, 2]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels)]
    return ("\n".join(lines + [f"width: *a{levels - 1}"]) + "\n").encode()


HOSTILE_YAML["billion-laughs"] = billion_laughs()


def test_a_billion_laughs_config_is_refused_in_one_short_line(tmp_path):
    state = pykan_files(tmp_path, billion_laughs())
    code, _, err = run(["inspect", str(state)])
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and len(lines[0]) < 200, err[:300]
    assert "pk_config.yml" in lines[0] and "aliases" in lines[0]


@pytest.mark.parametrize("name", sorted(HOSTILE_YAML))
def test_hostile_pykan_yaml(tmp_path, name):
    state = pykan_files(tmp_path, HOSTILE_YAML[name])
    assert expect_clean(["inspect", str(state)]) == 2
    assert not MARKER.exists()


def test_unreadable_and_odd_inputs(work, tmp_path):
    empty = tmp_path / "empty.safetensors"
    empty.write_bytes(b"")
    code, _, err = run(["inspect", str(empty)])
    assert code == 2 and "empty" in err
    expect_clean(["inspect", str(tmp_path)])
    expect_clean(["inspect", str(tmp_path / "missing.safetensors")])
    locked = tmp_path / "locked.safetensors"
    locked.write_bytes(work["blob"])
    locked.chmod(0)
    if not os.access(locked, os.R_OK):  # root reads anything
        expect_clean(["inspect", str(locked)])
    expect_clean(["predict", str(work["root"] / "model.skan"), "--input", str(tmp_path), "--out", str(tmp_path / "y.npy")])


def test_outputs_that_must_not_be_written(work, tmp_path):
    model = str(work["root"] / "model.skan")
    dense = str(work["root"] / "dense.safetensors")
    before = Path(dense).read_bytes()
    for out in (str(tmp_path), "", "/dev/null", dense, str(tmp_path / "no" / "such" / "folder.npy")):
        expect_clean(["compress", dense, "-K", "4", "--out", out])
    expect_clean(["predict", model, "--input", str(work["root"] / "x.npy"), "--out", str(work["root"] / "x.npy")])
    assert Path(dense).read_bytes() == before and Path("/dev/null").is_char_device()


@pytest.mark.parametrize("model", ["model.skan", "dense.safetensors"])
@pytest.mark.parametrize("values, rows", [(np.full((3, 6), np.nan), None), (np.full((3, 6), 1e300), None),
                                          (np.full((3, 6), 3e38, dtype=np.float32), "finite"),
                                          (np.zeros((0, 6), dtype=np.float32), 0), (np.zeros((2, 5)), None),
                                          (np.array(["a"] * 6), None)], ids=["nan", "1e300", "3e38", "0-rows",
                                                                             "wrong-width", "strings"])
def test_predict_inputs(work, tmp_path, model, values, rows):
    """Bad inputs are refused; 3e38 either gives finite outputs or is refused (the dense model overflows)."""
    np.save(tmp_path / "in.npy", values)
    out = tmp_path / "out.npy"
    def finite_rows(_):
        result = np.load(out)
        assert np.isfinite(result).all() and result.shape == (len(values), 3)

    code = expect_clean(["predict", str(work["root"] / model), "--input", str(tmp_path / "in.npy"), "--out", str(out)],
                        allow_success=rows is not None, output=out, check=finite_rows)
    assert code == 0 or rows != 0, "zero-row inputs must give zero-row outputs"


def test_bad_arguments(work, tmp_path):
    dense = str(work["root"] / "dense.safetensors")
    expect_clean(["sweep", dense, "--k-min", "0", "--k-max", "0", "--out", str(tmp_path / "s.json")])
    expect_clean(["compress", dense, "-K", "4", "--bits", "5", "--out", str(tmp_path / "c.skan")])
    expect_clean(["compress", dense, "-K", "1", "--out", str(tmp_path / "c.skan")])
    expect_clean(["no-such-command"])


def png_header_only(width: int, height: int, bit_depth: int) -> bytes:
    """A PNG whose header declares ``width`` x ``height`` greyscale at ``bit_depth``, with one short data chunk."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    header = struct.pack(">IIBBBBB", width, height, bit_depth, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(width * 2 + 1) * 64))
            + chunk(b"IEND", b""))


def zero_size_bomb() -> bytes:
    """A safetensors file of zero-size tensors whose shapes declare 2^31 outputs."""
    header = {"layers.0.spline_weight": {"dtype": "F32", "shape": [2**31, 0, 8], "data_offsets": [0, 0]},
              "layers.0.grid": {"dtype": "F32", "shape": [0, 12], "data_offsets": [0, 0]},
              "layers.0.base_weight": {"dtype": "F32", "shape": [2**31, 0], "data_offsets": [0, 0]}}
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw


def deflate_bomb(path: Path, inflated: int) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        with archive.open("archive/data/0", "w", force_zip64=True) as entry:
            block = bytes(1 << 24)
            for _ in range(inflated >> 24):
                entry.write(block)


# Runs each argv through main() in one child process and prints the statuses and messages as JSON.
BOMB_DRIVER = """
import contextlib, io, json, sys
from sharekan_core.cli.main import main
results = []
for argv in json.loads(sys.argv[1]):
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(argv)
    results.append([code, err.getvalue()])
print(json.dumps(results))
"""
MEMORY_LIMIT = 2 << 30


def test_memory_bombs_in_a_memory_limited_process(work, tmp_path):
    import resource

    (tmp_path / "zero_size.safetensors").write_bytes(zero_size_bomb())
    wide = {"layers.0.spline_weight": torch.zeros(1, 1, 2**20), "layers.0.grid": torch.arange(2**20 + 4.0)[None],
            "layers.0.base_weight": torch.zeros(1, 1)}
    (tmp_path / "wide_edge.safetensors").write_bytes(save_bytes(wide))
    deflate_bomb(tmp_path / "deflated.pt", 1 << 28)  # 256 MiB from ~1 MB: refused by the inflation ratio
    (tmp_path / "huge16.png").write_bytes(png_header_only(9400, 9400, 16))
    (tmp_path / "huge_layers.skan").write_bytes(restamp(work["blob"], lambda f: f["layers"][0].__setitem__(
        "shape", [2**16, 2**16]), keep_checksum=True))
    with open(tmp_path / "huge.npy", "wb") as handle:  # header declares 2^36 rows, file holds none
        handle.write(b"\x93NUMPY\x01\x00" + b"v\x00" + b"{'descr': '<f4', 'fortran_order': False, 'shape': (68719476736, 6), }".ljust(117) + b"\n")
    out = str(tmp_path / "out")
    cases = [["inspect", str(tmp_path / "zero_size.safetensors")],
             ["compress", str(tmp_path / "wide_edge.safetensors"), "-K", "2", "--out", out],
             ["inspect", str(tmp_path / "deflated.pt")],
             ["detect", str(tmp_path / "huge16.png")],
             ["predict", str(tmp_path / "huge_layers.skan"), "--input", str(work["root"] / "x.npy"), "--out", out],
             ["predict", str(work["root"] / "model.skan"), "--input", str(tmp_path / "huge.npy"), "--out", out]]

    def limit_memory():
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))

    child = subprocess.run([sys.executable, "-c", BOMB_DRIVER, json.dumps(cases)], capture_output=True, text=True,
                           preexec_fn=limit_memory, timeout=300, cwd=Path(__file__).resolve().parents[1])
    assert child.returncode == 0, child.stderr[-2000:]
    for argv, (code, err) in zip(cases, json.loads(child.stdout)):
        lines = [line for line in err.splitlines() if line.strip()]
        clean = code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and "internal error" not in lines[0]
        TALLY["clean_error" if clean else "unclean"] += 1
        assert clean, f"{argv}: status {code}, stderr {err!r}"
        assert "out of memory" not in err, f"{argv} was caught only by running out of memory"
    assert not list(tmp_path.glob(f"*{PART_MARK}*")) and not Path(out).exists()
