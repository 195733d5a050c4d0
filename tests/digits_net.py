"""A small CNN backbone with a KAN head, as the paper's setting has it, the digits it is trained on, and the
relative error that holds an import to its library's forward."""
from __future__ import annotations

import torch
from sklearn.datasets import load_digits
from torch import nn


class DigitsNet(nn.Module):
    """Conv -> (BatchNorm) -> ReLU -> pool -> tanh features (N, 64), then ``head``."""

    def __init__(self, head: nn.Module, batch_norm: bool = False):
        super().__init__()
        norm = [nn.BatchNorm2d(4)] if batch_norm else []
        self.backbone = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), *norm, nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(),
                                      nn.Tanh())
        self.head = head

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(pixels.view(-1, 1, 8, 8)))


def digits_tensors(count: int | None = 600) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``count`` scikit-learn digits (all 1,797 for None) as (count, 64) pixels in [-1, 1] and their
    labels."""
    pixels, labels = load_digits(return_X_y=True)
    return torch.tensor(pixels[:count] / 8.0 - 1.0, dtype=torch.float32), torch.tensor(labels[:count])


def relative_error(got: torch.Tensor, want: torch.Tensor) -> float:
    """Largest absolute difference over the largest absolute reference output, in float64: how an importer is held
    to its library's own forward."""
    return float((got.double() - want.double()).abs().max() / want.double().abs().max())
