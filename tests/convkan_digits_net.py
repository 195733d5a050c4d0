"""The small image model that holds convkan 0.0.1.2's ConvKAN to the tool: two ConvKAN layers and a linear classifier
on 8x8 digits, and each layer's geometry as the tool states it (shared by tests/test_io_convkan.py and
scripts/import_checks.py)."""
from __future__ import annotations

import torch
from torch import nn

from sharekan_core.model.conv_kan import ConvGeometry

# conv1: 1 -> 4 channels, 3x3, padding 1; conv2: 4 -> 4 channels, 3x3, stride 2, reflect padding (grouped ConvKANs
# are refused by name)
GEOMETRIES = {"conv1": (ConvGeometry(1, 3, padding=1), 4),
              "conv2": (ConvGeometry(4, 3, stride=2, padding=1, padding_mode="reflect"), 4)}


class DigitsConvKAN(nn.Module):
    """Two convkan layers and a linear classifier on 8x8 digits."""

    def __init__(self):
        super().__init__()
        import convkan  # the library is optional: importing this module does not need it

        self.conv1 = convkan.ConvKAN(1, 4, 3, padding=1, grid_size=5)
        self.conv2 = convkan.ConvKAN(4, 4, 3, stride=2, padding=1, padding_mode="reflect", grid_size=5)
        self.classify = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.classify(self.conv2(torch.tanh(self.conv1(pixels.view(-1, 1, 8, 8)))))
