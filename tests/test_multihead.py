"""Multi-head bundles load back: one codebook object for every head, each head equal to its own compressed file,
and the CLI lists the heads, runs one with --head, and refuses a missing or absent head with one line."""
import json

import numpy as np
import pytest
import torch

from conftest import prototype_kan
from sharekan_core.cli.main import main
from sharekan_core.compression import CompressionConfig, compress, compress_with_codebooks
from sharekan_core.errors import SharekanError
from sharekan_core.format.multihead_file import head_names, load_multihead, save_multihead
from sharekan_core.runtime import CompressedDomainKAN
from sharekan_core.runtime.loading import load_heads, load_runnable

CONFIG = CompressionConfig(codebook_size=8, bits=8)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    """Three 6 -> 5 -> 3 heads sharing the first head's codebooks, written as one bundle."""
    first = compress(prototype_kan((6, 5, 3), prototypes=4, seed=0), CONFIG, metadata={"task": "test"})
    others = [compress_with_codebooks(prototype_kan((6, 5, 3), prototypes=4, seed=s), CONFIG, first.codebooks)
              for s in (1, 2)]
    path = tmp_path_factory.mktemp("bundle") / "heads.safetensors"
    save_multihead([first, *others], path, names=["cars", "people", "signs"])
    return path, [first, *others]


def test_loader_shares_one_codebook_and_matches_each_head(bundle):
    path, heads = bundle
    loaded = load_multihead(path)
    assert list(loaded.heads) == ["cars", "people", "signs"]
    assert all(head.codebooks is loaded.codebooks for head in loaded.heads.values())
    x = torch.rand(7, 6) * 2.4 - 1.2
    for original, (name, head) in zip(heads, loaded.heads.items()):
        np.testing.assert_array_equal(head.layers[1].indices, original.layers[1].indices)
        with torch.no_grad():
            torch.testing.assert_close(CompressedDomainKAN(head)(x), CompressedDomainKAN(original)(x))
    assert loaded.heads["cars"].metadata == {"task": "test"}
    runnables = load_heads(path)
    assert list(runnables) == ["cars", "people", "signs"]
    modules = [r.module for r in runnables.values()]
    assert modules[1].codebooks is modules[0].codebooks and modules[2].codebooks is modules[0].codebooks
    if getattr(modules[0], "fused", None) is not None:
        assert modules[2].fused.codebooks is modules[0].fused.codebooks
    for original, module in zip(heads, modules):  # sharing changes no output
        with torch.no_grad():
            torch.testing.assert_close(module(x), CompressedDomainKAN(original)(x))
            torch.testing.assert_close(module(x[:2]), CompressedDomainKAN(original)(x[:2]))


def test_head_names_are_checked():
    assert head_names([None, None], ["a", "b"]) == ["a", "b"]
    with pytest.raises(SharekanError, match="unique"):
        head_names([None, None], ["a", "a"])
    with pytest.raises(SharekanError, match="letters"):
        head_names([None], ["a b"])


def test_runnable_needs_a_head_name(bundle):
    path, _ = bundle
    with pytest.raises(SharekanError, match="pass --bundle-head with one of cars, people, signs"):
        load_runnable(path)
    with pytest.raises(SharekanError, match="no head 'bikes'"):
        load_runnable(path, "bikes")
    assert load_runnable(path, "people").out_features == 3


def test_cli_inspect_lists_heads(bundle, capsys):
    path, heads = bundle
    assert main(["inspect", str(path)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [h["name"] for h in report["heads"]] == ["cars", "people", "signs"]
    assert all(h["widths"] == [6, 5, 3] and h["edges"] == 45 for h in report["heads"])
    assert report["shared_codebook_bytes"] > 0


def test_cli_predict_runs_one_head(bundle, tmp_path, capsys):
    path, heads = bundle
    x = (np.random.default_rng(0).random((4, 6)) * 2 - 1).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    assert main(["predict", str(path), "--head", "signs", "--input", str(tmp_path / "x.npy"),
                 "--out", str(tmp_path / "y.npy")]) == 0
    with torch.no_grad():
        expected = CompressedDomainKAN(heads[2])(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), expected, rtol=1e-6, atol=1e-6)
    capsys.readouterr()
    assert main(["predict", str(path), "--input", str(tmp_path / "x.npy"), "--out", str(tmp_path / "z.npy")]) == 2
    assert capsys.readouterr().err.startswith("error: heads.safetensors is a bundle of 3 heads")
    assert not (tmp_path / "z.npy").exists()


def test_cli_bundle_writes_named_heads(tmp_path, capsys):
    from sharekan_core.io import save_model

    for seed in (0, 1):
        save_model(prototype_kan((6, 5, 3), prototypes=4, seed=seed), tmp_path / f"head_{seed}.safetensors")
    out = tmp_path / "two.safetensors"
    assert main(["bundle", str(tmp_path / "head_0.safetensors"), str(tmp_path / "head_1.safetensors"),
                 "-K", "8", "--out", str(out)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["heads"] == ["head_0", "head_1"] and report["file_bytes"] == out.stat().st_size
    loaded = load_multihead(out)
    assert loaded.heads["head_1"].metadata["source"] == "head_1.safetensors"
    assert loaded.heads["head_0"].codebooks is loaded.heads["head_1"].codebooks


def test_cli_evaluate_runs_one_head_of_a_digits_bundle(tmp_path, capsys):
    from sharekan_core.studio.settings import settings

    models = [settings().models_dir / f"digits_kan{suffix}.safetensors" for suffix in ("", "_seed1")]
    out = tmp_path / "digits.safetensors"
    assert main(["bundle", *map(str, models), "-K", "16", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(out), "--head", "digits_kan_seed1"]) == 0  # the task comes from the head's metadata
    report = json.loads(capsys.readouterr().out)
    assert report["kind"] == "compressed" and 0.5 < report["accuracy"] <= 1.0


def test_compress_heads_fits_on_the_first_head_and_assigns_the_rest():
    from sharekan_core.compression.multihead import compress_heads

    models = [prototype_kan((12, 10, 4), prototypes=5, seed=seed) for seed in (0, 1, 2)]
    config = CompressionConfig(codebook_size=8, bits=8)
    heads = compress_heads(models, config, [{"source": f"h{i}"} for i in range(3)])
    first = compress(models[0], config)
    for head in (*heads, first):  # every head holds the first head's codebooks
        assert all(np.array_equal(a.payload, b.payload) for a, b in zip(head.codebooks, heads[0].codebooks, strict=True))
    again = compress_with_codebooks(models[2], config, heads[0].codebooks)
    assert np.array_equal(heads[2].layers[0].indices, again.layers[0].indices)
    assert [head.metadata.get("source") for head in heads] == ["h0", "h1", "h2"]
    with pytest.raises(SharekanError, match="one architecture"):
        compress_heads([models[0], prototype_kan((12, 4), prototypes=3)], config)
    with pytest.raises(SharekanError, match="at least one head"):
        compress_heads([], config)
