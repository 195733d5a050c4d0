"""A convolutional KAN: one KAN layer applied to every unfolded patch of an image (convkan's ``ConvKAN``).

Shapes (N images of C channels, kernel kh x kw, L = H_out * W_out patches, n = C * kh * kw):
    images   (N, C, H, W)
    patches  (N * L, n)       F.unfold's columns, channel-major (channel c, then kernel row, then column)
    outputs  (N * L, out)     the patch KAN: any module mapping (batch, n) -> (batch, out), dense or compressed
    result   (N, out, H_out, W_out)
The patch KAN is the only thing with weights, so the dense KAN and its compressed-domain module run the same way.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import SharekanError

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _pair(value: int | tuple[int, int]) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


@dataclass(frozen=True)
class ConvGeometry:
    """How a convolutional KAN cuts images into patches; a convkan state dict does not record it."""

    in_channels: int
    kernel_size: tuple[int, int] = (3, 3)
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    padding_mode: str = "zeros"

    def __post_init__(self) -> None:
        for name in ("kernel_size", "stride", "padding", "dilation"):
            object.__setattr__(self, name, _pair(getattr(self, name)))
        low = {"kernel_size": 1, "stride": 1, "padding": 0, "dilation": 1}
        for name, minimum in low.items():
            if min(getattr(self, name)) < minimum:
                raise ValueError(f"{name} must be at least {minimum}, got {getattr(self, name)}")
        if self.in_channels < 1:
            raise ValueError(f"in_channels must be at least 1, got {self.in_channels}")
        if self.padding_mode not in PADDING_MODES:
            raise ValueError(f"padding_mode must be one of {', '.join(PADDING_MODES)}, got {self.padding_mode!r}")

    @classmethod
    def parse(cls, text: str) -> "ConvGeometry":
        """'C,KERNEL[,STRIDE[,PADDING[,DILATION[,PADDING_MODE]]]]' (square, convkan's defaults 1, 0, 1, zeros)."""
        parts = [part.strip() for part in text.split(",")]
        if not 2 <= len(parts) <= 6:
            raise ValueError(f"conv geometry {text!r} must be C,KERNEL[,STRIDE[,PADDING[,DILATION[,PADDING_MODE]]]]")
        mode = parts.pop() if len(parts) == 6 else "zeros"
        try:
            numbers = [int(part) for part in parts]
        except ValueError:
            raise ValueError(f"conv geometry {text!r}: C, KERNEL, STRIDE, PADDING and DILATION must be integers") from None
        names = ("in_channels", "kernel_size", "stride", "padding", "dilation")
        return cls(**dict(zip(names, numbers)), padding_mode=mode)

    def as_dict(self) -> dict:
        """The geometry as JSON-ready fields; ``ConvGeometry(**fields)`` rebuilds it."""
        return {"in_channels": self.in_channels, "kernel_size": list(self.kernel_size), "stride": list(self.stride),
                "padding": list(self.padding), "dilation": list(self.dilation), "padding_mode": self.padding_mode}

    @property
    def patch_size(self) -> int:
        """Inputs of one patch, n = C * kh * kw: the patch KAN's in_features."""
        return self.in_channels * self.kernel_size[0] * self.kernel_size[1]

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        """(H_out, W_out) of an image of ``height`` x ``width``, as torch.nn.Conv2d gives it."""
        return tuple((size + 2 * pad - dil * (kernel - 1) - 1) // step + 1  # type: ignore[return-value]
                     for size, pad, dil, kernel, step in zip((height, width), self.padding, self.dilation,
                                                             self.kernel_size, self.stride))


def check_images(images: torch.Tensor, geometry: ConvGeometry) -> tuple[int, int]:
    """(H_out, W_out) of ``images``, or a SharekanError: not (N, C, H, W) with N >= 1, smaller than the kernel
    (zero-size included), or holding NaN or Inf."""
    if images.dim() != 4 or images.shape[1] != geometry.in_channels:
        raise SharekanError(f"expected images of shape (N, {geometry.in_channels}, H, W), got {tuple(images.shape)}")
    if images.shape[0] == 0:
        raise SharekanError(f"the image array holds no images (shape {tuple(images.shape)})")
    if min(images.shape[2:]) == 0:
        raise SharekanError(f"images of {images.shape[2]} x {images.shape[3]} hold no pixels")
    height, width = geometry.output_size(images.shape[2], images.shape[3])
    if geometry.padding_mode in ("reflect", "circular") and any(
            pad > size - (geometry.padding_mode == "reflect") for pad, size in zip(geometry.padding, images.shape[2:])):
        raise SharekanError(f"images of {images.shape[2]} x {images.shape[3]} are too small for {geometry.padding_mode} "
                            f"padding of {geometry.padding[0]} x {geometry.padding[1]}")
    if min(height, width) < 1:
        padding = f" padded by {geometry.padding[0]} x {geometry.padding[1]}" if max(geometry.padding) else ""
        dilation = f" at dilation {geometry.dilation[0]} x {geometry.dilation[1]}" if max(geometry.dilation) > 1 else ""
        raise SharekanError(f"images of {images.shape[2]} x {images.shape[3]}{padding} are smaller than the "
                            f"convolution's {geometry.kernel_size[0]} x {geometry.kernel_size[1]} kernel{dilation}")
    if images.is_floating_point() and not bool(torch.isfinite(images).all()):
        raise SharekanError("the images contain NaN or Inf values")
    return height, width


class ConvKAN2d(nn.Module):
    """(N, C, H, W) -> (N, out, H_out, W_out): ``patch_kan`` on every unfolded patch of ``geometry``."""

    def __init__(self, patch_kan: nn.Module, geometry: ConvGeometry, out_channels: int):
        super().__init__()
        self.patch_kan = patch_kan
        self.geometry = geometry
        self.out_channels = out_channels

    def patches(self, images: torch.Tensor) -> torch.Tensor:
        """The unfolded patches of ``images``, (N * L, C * kh * kw)."""
        geometry = self.geometry
        padding = geometry.padding
        if geometry.padding_mode != "zeros":
            images = F.pad(images, [p for p in reversed(padding) for _ in range(2)], mode=geometry.padding_mode)
            padding = (0, 0)
        columns = F.unfold(images, geometry.kernel_size, geometry.dilation, padding, geometry.stride)
        return columns.transpose(1, 2).reshape(-1, columns.shape[1])

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Map (N, C, H, W) to (N, out, H_out, W_out); SharekanError for images it cannot run on."""
        height, width = check_images(images, self.geometry)
        outputs = self.patch_kan(self.patches(images))
        return outputs.reshape(images.shape[0], height * width, self.out_channels).transpose(1, 2) \
            .reshape(images.shape[0], self.out_channels, height, width)
