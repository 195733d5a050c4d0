"""ExecuTorch programs: export a module to ``.pte`` (optionally XNNPACK-lowered) and run one from Python.

ExecuTorch plans memory for static shapes, so a program's batch is fixed at export;
``PteProgram.__call__`` feeds inputs of any batch through it in fixed-size pieces.
Importing executorch takes seconds, so every import here is inside a function.
"""
from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import SharekanError
from ..io.atomic import atomic_path

PTE_IDENTIFIER = b"ET12"   # flatbuffer file identifier at bytes 4..8 of every .pte
MIN_PTE_BYTES = 64


def export_pte(module: torch.nn.Module, in_features: int, path: str | Path, batch: int = 1,
               xnnpack: bool = False) -> int:
    """Export ``module`` for float32 (batch, in_features) inputs to a ``.pte`` written atomically; return its size."""
    return export_program(module, (torch.rand(batch, in_features) * 2 - 1,), path, xnnpack)


def export_program(module: torch.nn.Module, example: tuple[torch.Tensor, ...], path: str | Path,
                   xnnpack: bool = False) -> int:
    """Export ``module`` traced on ``example`` inputs to a ``.pte`` written atomically; return its size."""
    from executorch.exir import to_edge_transform_and_lower

    with torch.no_grad():
        exported = torch.export.export(module.eval(), example)
    partitioners = []
    if xnnpack:
        from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner

        partitioners.append(XnnpackPartitioner())
    program = to_edge_transform_and_lower(exported, partitioner=partitioners).to_executorch()
    with atomic_path(path) as tmp:
        tmp.write_bytes(program.buffer)
    return Path(path).stat().st_size


def check_pte_file(path: str | Path) -> None:
    """Raise SharekanError unless ``path`` looks like a complete ExecuTorch program.

    The loader itself is run in a child process first (``probe_pte``), because a malformed
    flatbuffer can abort the process that parses it.
    """
    path = Path(path)
    if not path.is_file():
        raise SharekanError(f"no such file: {path}")
    with path.open("rb") as handle:
        head = handle.read(8)
    if path.stat().st_size < MIN_PTE_BYTES or head[4:8] != PTE_IDENTIFIER:
        raise SharekanError(f"{path.name}: not an ExecuTorch program (.pte)")
    probe = subprocess.run([sys.executable, "-c", _PROBE, str(path)], capture_output=True, text=True, timeout=120)
    if probe.returncode != 0:
        detail = (probe.stderr.strip().splitlines() or ["the loader crashed"])[-1][:160]
        raise SharekanError(f"{path.name}: corrupted or truncated ExecuTorch program ({detail})")


_PROBE = """
import sys
from pathlib import Path
from executorch.runtime import Runtime
program = Runtime.get().load_program(Path(sys.argv[1]))
if program.load_method("forward") is None:
    sys.exit("no method 'forward'")
"""


@dataclass
class PteProgram:
    """A loaded ``.pte`` whose ``forward`` maps float32 (batch, in) -> (batch, out), batch fixed at export."""

    path: Path
    method: object
    batch: int
    in_features: int

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Run any number of rows, padding the last piece to the program's batch."""
        if x.dim() != 2 or x.shape[1] != self.in_features:
            raise SharekanError(f"expected input of shape (batch, {self.in_features}), got {tuple(x.shape)}")
        outputs = []
        for rows in x.to(torch.float32).split(self.batch):
            padded = torch.cat((rows, rows.new_zeros(self.batch - len(rows), self.in_features)))
            outputs.append(self.method.execute((padded.contiguous(),))[0][: len(rows)])
        return torch.cat(outputs)


def load_pte(path: str | Path) -> PteProgram:
    """Validate (in a child process) and load a ``.pte`` exported by ``export_pte``."""
    check_pte_file(path)
    from executorch.runtime import Runtime

    program = Runtime.get().load_program(Path(path))
    method = program.load_method("forward")
    meta = method.metadata.input_tensor_meta(0)
    sizes = tuple(meta.sizes())
    if len(sizes) != 2:
        raise SharekanError(f"{Path(path).name}: forward takes shape {sizes}, expected (batch, features)")
    return PteProgram(Path(path), method, sizes[0], sizes[1])
