"""Load whatever a user points at (dense model, compressed file or multi-head bundle) as a runnable module."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..compression.basis_net import CompressedBasisKAN
from ..compression.compressed import CompressedKAN, decompress
from ..errors import SharekanError
from ..format.basis_net_file import is_basis_kan_file, load_basis_kan
from ..format.compressed_file import is_compressed_file, load_compressed
from ..format.multihead_file import is_multihead_file, load_multihead
from ..io import read_model
from ..io.kan_groups import CONVKAN
from ..model.conv_kan import ConvGeometry, ConvKAN2d
from .compressed_basis import CompressedBasisStack
from .compressed_kan import CompressedDomainKAN


@dataclass
class Runnable:
    """A module mapping (batch, in_features) -> (batch, out_features), with its file's metadata."""

    module: torch.nn.Module
    in_features: int
    out_features: int
    metadata: dict = field(default_factory=dict)
    kind: str = "dense"
    compressed: CompressedKAN | CompressedBasisKAN | None = None  # a compressed file's stored form; None for dense
    conv: ConvGeometry | None = None  # a convolutional KAN: the module maps (N, C, H, W) images instead

    def program_module(self) -> torch.nn.Module:
        """The module to export as an ExecuTorch program: ``KANProgram`` (the stored codes) for compressed files."""
        from .basis_program import BasisProgram
        from .program import KANProgram

        if self.compressed is None:
            return self.module
        program = KANProgram if isinstance(self.compressed, CompressedKAN) else BasisProgram
        return program(self.compressed).eval()


def compressed_runnable(compressed: CompressedKAN) -> Runnable:
    """A compressed KAN ready to run: SHARe-KAN in the compressed domain (never decompressed); the other methods
    have no compressed-domain kernel and run their decoded dense model."""
    module = CompressedDomainKAN(compressed) if compressed.method == "sharekan" else decompress(compressed)
    return Runnable(module.eval(), compressed.layers[0].in_features, compressed.layers[-1].out_features,
                    compressed.metadata, "compressed", compressed)


def load_heads(path: str | Path) -> dict[str, Runnable]:
    """Every head of a multi-head bundle by name; the codebooks are read once, and every head's module holds the
    first head's codebook buffers (and fused-kernel codebooks), not a copy."""
    bundle = load_multihead(path)
    heads = {name: compressed_runnable(head) for name, head in bundle.heads.items()}
    first, *others = (runnable.module for runnable in heads.values())
    for module in others:
        module.codebooks = first.codebooks
        if getattr(module, "fused", None) is not None and getattr(first, "fused", None) is not None:
            module.fused.codebooks = first.fused.codebooks
    return heads


CONV_GEOMETRY = "conv_geometry"  # compressed metadata: the ConvGeometry of a convolutional KAN's patch KAN


def load_runnable(path: str | Path, head: str | None = None, prefix: str | None = None,
                  base_activation: str | None = None, grid: str | None = None,
                  conv: ConvGeometry | str | None = None, between: str | None = None) -> Runnable:
    """Return a dense model, a compressed file, or the head ``head`` of a multi-head bundle, ready to run.

    ``prefix``, ``base_activation`` and ``grid`` apply to dense model files (see ``io.read_model``); ``conv`` states
    a convkan file's geometry, which makes the module take (N, C, H, W) images (a compressed file records it).
    A FastKAN, ChebyKAN or Gram net, dense or compressed, runs too (compressed: decode-and-apply per layer)."""
    if is_multihead_file(path) or is_compressed_file(path) or is_basis_kan_file(path):
        check_dense_only(path, prefix, base_activation, grid, between)
        if conv is not None:
            raise SharekanError(f"--conv applies to dense convkan files; {Path(path).name} records its own geometry")
    if is_multihead_file(path):
        bundle = load_multihead(path)
        if head is None and len(bundle.heads) > 1:
            raise SharekanError(f"{Path(path).name} is a bundle of {len(bundle.heads)} heads; pass --bundle-head with one "
                                f"of {', '.join(bundle.heads)}")
        return compressed_runnable(bundle.head(head or next(iter(bundle.heads))))
    if head is not None:
        raise SharekanError(f"--bundle-head applies to multi-head bundles; {Path(path).name} holds one model")
    if is_basis_kan_file(path):
        stored = load_basis_kan(path)
        return Runnable(CompressedBasisStack(stored.layers, stored.between).eval(), stored.in_features, stored.out_features,
                        stored.metadata, "compressed", stored)
    if is_compressed_file(path):
        runnable = compressed_runnable(load_compressed(path))
        recorded = runnable.metadata.get(CONV_GEOMETRY)
        return runnable if recorded is None else image_runnable(runnable, conv_geometry(recorded, Path(path).name))
    loaded = read_model(path, prefix, base_activation, grid, basis=True, between=between)
    model = loaded.model.eval()
    runnable = Runnable(model, model.layers[0].in_features, model.layers[-1].out_features, loaded.metadata, "dense")
    if loaded.source_format != CONVKAN:
        if conv is not None:
            raise SharekanError(f"--conv applies to convkan files; {Path(path).name} holds a {loaded.source_format} KAN")
        return runnable
    if conv is None:
        raise SharekanError(f"{Path(path).name}: a convkan state dict does not record its kernel, stride or padding; "
                            "state them as C,KERNEL[,STRIDE[,PADDING[,DILATION[,PADDING_MODE]]]] (--conv on predict "
                            "and compress, conv= in the API)")
    return image_runnable(runnable, conv_geometry(conv, Path(path).name))


def check_flat(runnable: Runnable, command: str) -> None:
    """Raise SharekanError if ``runnable`` takes images (a convolutional KAN): ``command`` runs (batch, in) KANs."""
    if runnable.conv is not None:
        raise SharekanError(f"{command} runs KANs on (batch, in) inputs; this is a convolutional KAN, which 'predict' "
                            "runs on (N, C, H, W) images")


def conv_geometry(stated: ConvGeometry | str | dict, source: str) -> ConvGeometry:
    """``stated`` (a ConvGeometry, its --conv text or its recorded fields) as a ConvGeometry, or a SharekanError."""
    if isinstance(stated, ConvGeometry):
        return stated
    try:
        return ConvGeometry.parse(stated) if isinstance(stated, str) else ConvGeometry(**stated)
    except (TypeError, ValueError) as exc:
        raise SharekanError(f"{source}: {exc}") from None


def image_runnable(runnable: Runnable, geometry: ConvGeometry) -> Runnable:
    """``runnable``'s patch KAN run on every patch of (N, C, H, W) images, checked to fit ``geometry``."""
    if geometry.patch_size != runnable.in_features:
        raise SharekanError(f"the conv geometry gives patches of {geometry.in_channels} x {geometry.kernel_size[0]} x "
                            f"{geometry.kernel_size[1]} = {geometry.patch_size} inputs, but the KAN takes "
                            f"{runnable.in_features}")
    module = ConvKAN2d(runnable.module, geometry, runnable.out_features).eval()
    return Runnable(module, runnable.in_features, runnable.out_features, runnable.metadata, runnable.kind,
                    runnable.compressed, geometry)


def check_dense_only(path: str | Path, prefix: str | None, base_activation: str | None,
                     grid: str | None = None, between: str | None = None) -> None:
    """Raise SharekanError if --prefix, --base-activation, --grid or --between was given for a compressed file or
    bundle: they pick or describe a dense KAN, and a compressed file records its own."""
    for option, value in (("--prefix", prefix), ("--base-activation", base_activation), ("--grid", grid),
                          ("--between", between)):
        if value is not None:
            raise SharekanError(f"{option} applies to dense model files; {Path(path).name} is a compressed file "
                                "or multi-head bundle")
