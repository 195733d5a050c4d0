"""KAN families with other bases (FastKAN, ChebyKAN, Gram/KAGN) are not imported from files yet: a file holding them
is refused naming the family and pointing to sk.compress_, in one error line, never read as another family (their
layers compress in place: tests/test_basis_kans.py, tests/test_io_gram.py)."""
from __future__ import annotations

import re

import pytest
import torch
from efficient_kan_reference import train
from other_basis_reference import ChebyKANLayer, FastKANLayer, GramLayer
from torch import nn

from digits_net import digits_tensors
from sharekan_core.errors import SharekanError
from sharekan_core.io import read_model

FAMILIES = {"FastKAN": FastKANLayer, "ChebyKAN": ChebyKANLayer, "Gram/KAGN": GramLayer}


@pytest.fixture(scope="module")
def digits() -> tuple[torch.Tensor, torch.Tensor]:
    """300 of scikit-learn's digits, pixels scaled to [-1, 1], and their labels."""
    return digits_tensors(300)


@pytest.fixture(scope="module")
def nets(digits) -> dict[str, nn.Module]:
    """A [64, 8, 10] net of each family, trained 20 steps on digits."""
    built = {}
    for family, layer in FAMILIES.items():
        torch.manual_seed(0)
        built[family] = train(nn.Sequential(layer(64, 8), layer(8, 10)), *digits, steps=20)
    return built


@pytest.mark.parametrize("family", FAMILIES)
def test_a_file_of_another_basis_is_refused_by_family(tmp_path, nets, family):
    path = tmp_path / "model.pt"
    torch.save(nets[family].state_dict(), path)
    with pytest.raises(SharekanError, match=rf"does not import yet: {re.escape(family)} \(.*sk\.compress_"):
        read_model(path, base_activation="silu")
    head = tmp_path / "head.pt"
    torch.save({f"head.{key}": value for key, value in nets[family].state_dict().items()}, head)
    with pytest.raises(SharekanError, match=rf"does not import yet: {re.escape(family)} \(.*'head\.0\."):
        read_model(head, prefix="head.", base_activation="silu")


def test_cli_refuses_another_basis_in_one_line(tmp_path, capsys, nets):
    from sharekan_core.cli.main import main

    path = tmp_path / "fastkan.pt"
    torch.save(nets["FastKAN"].state_dict(), path)
    out = tmp_path / "out.skan"
    status = main(["compress", str(path), "--base-activation", "silu", "-K", "8", "--out", str(out)])
    lines = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(lines) == 1 and lines[0].startswith("error:") and "FastKAN" in lines[0], lines
    assert not out.exists()
