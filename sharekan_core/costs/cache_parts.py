"""Published L2 sizes of named edge and datacenter parts, each with the document it comes from.

Sizes are the vendor's (or, where the vendor publishes none, the cited review's) figures,
in bytes; 'shared' means one L2 for the whole chip or cluster, 'per core' one per CPU core.
"""
from __future__ import annotations

from dataclasses import dataclass

MiB = 1 << 20
KiB = 1 << 10


@dataclass(frozen=True)
class CachePart:
    """One chip's L2: its size in bytes, whether it is shared or per core, and the source."""

    name: str
    kind: str          # "datacenter GPU", "edge GPU", "edge CPU", "laptop CPU"
    l2_bytes: int
    scope: str         # "shared" or "per core"
    source: str        # URL of the vendor document or review


CACHE_PARTS: tuple[CachePart, ...] = (
    CachePart("NVIDIA H100 SXM5", "datacenter GPU", 50 * MiB, "shared",
              "https://resources.nvidia.com/en-us-tensor-core/gtc22-whitepaper-hopper"),
    CachePart("NVIDIA A100 (40 GB)", "datacenter GPU", 40 * MiB, "shared",
              "https://images.nvidia.com/aem-dam/en-zz/Solutions/data-center/nvidia-ampere-architecture-whitepaper.pdf"),
    CachePart("NVIDIA V100", "datacenter GPU", 6 * MiB, "shared",
              "https://images.nvidia.com/content/volta-architecture/pdf/volta-architecture-whitepaper.pdf"),
    CachePart("NVIDIA T4 (TU104)", "datacenter GPU", 4 * MiB, "shared",
              "https://images.nvidia.com/aem-dam/en-zz/Solutions/design-visualization/technologies/turing-architecture/"
              "NVIDIA-Turing-Architecture-Whitepaper.pdf"),
    CachePart("NVIDIA GeForce RTX 4090", "desktop GPU", 72 * MiB, "shared",
              "https://images.nvidia.com/aem-dam/Solutions/geforce/ada/nvidia-ada-gpu-architecture.pdf"),
    CachePart("NVIDIA Jetson AGX Orin (GPU)", "edge GPU", 4 * MiB, "shared",
              "https://www.nvidia.com/content/dam/en-zz/Solutions/gtcf21/jetson-orin/nvidia-jetson-agx-orin-technical-brief.pdf"),
    CachePart("Raspberry Pi 5 (BCM2712, Cortex-A76)", "edge CPU", 512 * KiB, "per core",
              "https://www.raspberrypi.com/documentation/computers/processors.html#bcm2712"),
    CachePart("Apple M1 (performance cluster)", "laptop CPU", 12 * MiB, "shared",
              "https://www.anandtech.com/show/16226/apple-silicon-m1-a14-deep-dive"),
)
