"""SSD-MobileNetV2's feature extractor: the MobileNetV2 backbone plus four extra layers.

A port of TF's ``ssd_mobilenet_v2_coco_2018_03_29`` graph. BatchNorm is folded into each
convolution's bias by the converter, so every stage here is conv(+bias) then ReLU6 (or not).
Input (B, 3, 300, 300) scaled to [-1, 1]; output: six maps of 19², 10², 5², 3², 2², 1².
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

FEATURE_CHANNELS: tuple[int, ...] = (576, 1280, 512, 256, 256, 128)
FEATURE_SIZES: tuple[int, ...] = (19, 10, 5, 3, 2, 1)

# MobileNetV2 inverted-residual blocks: (expansion, out channels, stride); block 0 has no expand.
_BLOCKS: tuple[tuple[int, int, int], ...] = (
    (1, 16, 1), (6, 24, 2), (6, 24, 1), (6, 32, 2), (6, 32, 1), (6, 32, 1),
    (6, 64, 2), (6, 64, 1), (6, 64, 1), (6, 64, 1), (6, 96, 1), (6, 96, 1), (6, 96, 1),
    (6, 160, 2), (6, 160, 1), (6, 160, 1), (6, 320, 1),
)
# Extra layers after Conv_1: (1x1 bottleneck channels, 3x3 stride-2 output channels).
_EXTRAS: tuple[tuple[int, int], ...] = ((256, 512), (128, 256), (128, 256), (64, 128))


def same_pad(x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    """Pad like TF's "SAME": the odd pixel goes bottom/right (300->150 needs 0 top, 1 bottom)."""
    h, w = x.shape[-2:]
    pad_h = max((math.ceil(h / stride) - 1) * stride + kernel - h, 0)
    pad_w = max((math.ceil(w / stride) - 1) * stride + kernel - w, 0)
    return F.pad(x, (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2))


class ConvUnit(nn.Module):
    """Convolution with folded BatchNorm, TF SAME padding and optional ReLU6."""

    def __init__(self, cin: int, cout: int, kernel: int = 1, stride: int = 1,
                 depthwise: bool = False, relu: bool = True):
        super().__init__()
        self.kernel, self.stride, self.relu = kernel, stride, relu
        self.conv = nn.Conv2d(cin, cout, kernel, stride, padding=0, groups=cin if depthwise else 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map (B, cin, H, W) to (B, cout, ceil(H/s), ceil(W/s))."""
        if self.kernel > 1:
            x = same_pad(x, self.kernel, self.stride)
        x = self.conv(x)
        return F.relu6(x) if self.relu else x


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand, 3x3 depthwise, linear 1x1 project, residual if shapes match."""

    def __init__(self, cin: int, cout: int, expansion: int, stride: int):
        super().__init__()
        hidden = cin * expansion
        self.expand = ConvUnit(cin, hidden) if expansion != 1 else None
        self.depthwise = ConvUnit(hidden, hidden, 3, stride, depthwise=True)
        self.project = ConvUnit(hidden, cout, relu=False)
        self.residual = stride == 1 and cin == cout

    def expanded(self, x: torch.Tensor) -> torch.Tensor:
        """Return the expand stage's output (the first SSD feature map taps block 13 here)."""
        return self.expand(x) if self.expand is not None else x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map (B, cin, H, W) to (B, cout, H/s, W/s)."""
        y = self.project(self.depthwise(self.expanded(x)))
        return x + y if self.residual else y


class ExtraLayer(nn.Module):
    """SSD extra layer: 1x1 bottleneck, 3x3 stride-2 depthwise, 1x1 pointwise, all ReLU6."""

    def __init__(self, cin: int, bottleneck: int, cout: int):
        super().__init__()
        self.bottleneck = ConvUnit(cin, bottleneck)
        self.depthwise = ConvUnit(bottleneck, bottleneck, 3, 2, depthwise=True)
        self.pointwise = ConvUnit(bottleneck, cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map (B, cin, H, W) to (B, cout, ceil(H/2), ceil(W/2))."""
        return self.pointwise(self.depthwise(self.bottleneck(x)))


class SSDFeatureExtractor(nn.Module):
    """MobileNetV2 + SSD extras: (B, 3, 300, 300) in [-1, 1] -> six feature maps."""

    def __init__(self):
        super().__init__()
        self.stem = ConvUnit(3, 32, 3, 2)
        blocks, cin = [], 32
        for expansion, cout, stride in _BLOCKS:
            blocks.append(InvertedResidual(cin, cout, expansion, stride))
            cin = cout
        self.blocks = nn.ModuleList(blocks)
        self.head_conv = ConvUnit(320, 1280)  # TF's Conv_1
        extras, cin = [], 1280
        for bottleneck, cout in _EXTRAS:
            extras.append(ExtraLayer(cin, bottleneck, cout))
            cin = cout
        self.extras = nn.ModuleList(extras)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Return the six maps (B, C_i, S_i, S_i) listed in FEATURE_CHANNELS / FEATURE_SIZES."""
        x = self.stem(x)
        for block in self.blocks[:13]:
            x = block(x)
        # The first map is block 13's expand output, before its stride-2 depthwise.
        maps = [self.blocks[13].expanded(x)]
        x = self.blocks[13].project(self.blocks[13].depthwise(maps[0]))
        for block in self.blocks[14:]:
            x = block(x)
        x = self.head_conv(x)
        maps.append(x)
        for extra in self.extras:
            x = extra(x)
            maps.append(x)
        return maps
