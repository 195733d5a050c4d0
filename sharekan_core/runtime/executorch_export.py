"""ExecuTorch programs: export a module to ``.pte`` (optionally XNNPACK-lowered) and run one from Python.

A KAN program's ``forward`` takes any batch from 1 to a maximum chosen at export: the batch is a
``torch.export.Dim``, and ExecuTorch plans its memory for that upper bound (memory planning
evaluates symbolic shapes at their bounds). The program also carries a constant method
``max_batch``; ``PteProgram.__call__`` feeds longer inputs through it in pieces of that size.
Programs exported without it (older files) have a fixed batch and get padded pieces.
Importing executorch takes seconds, so every import here is inside a function.
"""
from __future__ import annotations

import hashlib
import math
import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import SharekanError
from ..io.atomic import write_bytes_atomic

PTE_IDENTIFIER = b"ET12"   # flatbuffer file identifier at bytes 4..8 of every .pte
MIN_PTE_BYTES = 64
DEFAULT_MAX_BATCH = 1024
MAX_BATCH_LIMIT = 65_536
MAX_BATCH_METHOD = "max_batch"


def export_pte(module: torch.nn.Module, in_features: int, path: str | Path, max_batch: int = DEFAULT_MAX_BATCH,
               xnnpack: bool = False) -> int:
    """Export ``module`` for float32 (batch, in_features) inputs, any batch from 1 to ``max_batch``; return the size.

    The ``.pte`` is written atomically.
    """
    if not isinstance(max_batch, int) or not 1 <= max_batch <= MAX_BATCH_LIMIT:
        raise SharekanError(f"max batch must be an integer from 1 to {MAX_BATCH_LIMIT:,}, got {max_batch}")
    # torch.export specializes a dimension whose example size is 0 or 1, so trace on 2 rows
    example = (torch.rand(min(2, max_batch), in_features) * 2 - 1,)
    dynamic = ({0: torch.export.Dim("batch", min=1, max=max_batch)},) if max_batch > 1 else None
    # XNNPACK gets the matrix products only: on elementwise operators that broadcast knot-shaped tensors
    # across a dynamic batch, its delegate (executorch 1.4) returns garbage or corrupts memory (the dense
    # KAN's B-spline bases gave outputs of 1e12 at batch 16), and the matrix products are where it helps.
    return export_program(module, example, path, xnnpack, dynamic, {MAX_BATCH_METHOD: max_batch}, gemm_only=True)


def export_program(module: torch.nn.Module, example: tuple[torch.Tensor, ...], path: str | Path,
                   xnnpack: bool = False, dynamic_shapes: tuple | None = None,
                   constants: dict[str, int] | None = None, gemm_only: bool = False) -> int:
    """Export ``module`` traced on ``example`` inputs to a ``.pte`` written atomically; return its size.

    ``dynamic_shapes`` is passed to ``torch.export.export``; ``constants`` become constant methods;
    ``gemm_only`` lowers only matrix products (linear, mm, addmm) to XNNPACK.
    """
    from executorch.exir import to_edge_transform_and_lower

    with torch.no_grad():
        try:
            exported = torch.export.export(module.eval(), example, dynamic_shapes=dynamic_shapes)
        except torch._dynamo.exc.UserError as exc:  # a dynamic dimension the module cannot honour
            raise SharekanError(f"cannot export with a dynamic batch: {first_line(exc)}") from None
        except (SharekanError, MemoryError):
            raise
        except Exception as exc:  # a graph torch.export cannot trace: one line, not a traceback
            raise SharekanError(f"torch.export could not trace this model ({type(exc).__name__}: "
                                f"{first_line(exc)})") from exc
    partitioners = []
    if xnnpack:
        from executorch.backends.xnnpack.partition.config.gemm_configs import AddmmConfig, LinearConfig, MMConfig
        from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner

        partitioners.append(XnnpackPartitioner(configs=[LinearConfig, AddmmConfig, MMConfig] if gemm_only else None))
    try:
        program = to_edge_transform_and_lower(exported, partitioner=partitioners,
                                              constant_methods=constants).to_executorch()
    except MemoryError:
        raise
    except Exception as exc:  # e.g. an operator outside the Core ATen opset: one line, not a traceback
        raise SharekanError(f"ExecuTorch could not lower this model ({type(exc).__name__}: {first_line(exc)})") from exc
    return write_program(path, program.buffer)


def first_line(exc: BaseException) -> str:
    """The first non-empty line of an exception's message, at most 200 characters."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0][:200] if lines else ""


@dataclass(frozen=True)
class ProgramContents:
    """What a ``.pte`` holds: its size, its constant tensors (ExecuTorch dtype name, shape, bytes) outside any
    delegate, and the bytes of delegate blobs and their named data (XNNPACK's copies of what it took)."""

    size: int
    constants: list[tuple[str, tuple[int, ...], int]]
    delegate_bytes: int

    @property
    def constant_bytes(self) -> int:
        """Bytes of the program's own constant tensors."""
        return sum(nbytes for _, _, nbytes in self.constants)


_DTYPE_BYTES = {"BYTE": 1, "CHAR": 1, "BOOL": 1, "SHORT": 2, "HALF": 2, "BFLOAT16": 2, "INT": 4, "FLOAT": 4,
                "LONG": 8, "DOUBLE": 8}


def program_contents(path: str | Path) -> ProgramContents:
    """Read a ``.pte``'s flatbuffer (executorch's own deserializer) and list what it carries."""
    from executorch.exir._serialize._program import deserialize_pte_binary
    from executorch.exir.schema import Tensor

    buffer = Path(path).read_bytes()
    pte = deserialize_pte_binary(buffer)
    constants, delegate_bytes = [], sum(len(blob.data) for blob in pte.program.backend_delegate_data)
    for plan in pte.program.execution_plan:
        for value in plan.values:
            if isinstance(value.val, Tensor) and value.val.data_buffer_idx > 0:
                tensor = value.val
                dtype = tensor.scalar_type.name
                constants.append((dtype, tuple(tensor.sizes), _DTYPE_BYTES[dtype] * math.prod(tensor.sizes)))
    if pte.named_data is not None:
        delegate_bytes += sum(len(data) for data in pte.named_data.buffers)
    return ProgramContents(len(buffer), constants, delegate_bytes)


def write_program(path: str | Path, buffer: bytes) -> int:
    """Write a program atomically with its ``NAME.sha256`` beside it, remembered as written here; return its size."""
    digest = hashlib.sha256(buffer).hexdigest()
    write_bytes_atomic(path, buffer)
    write_bytes_atomic(checksum_path(path), f"{digest}  {Path(path).name}\n".encode())
    _WRITTEN_HERE[os.path.realpath(path)] = digest
    return len(buffer)


def checksum_path(path: str | Path) -> Path:
    """The sidecar holding a program's SHA-256 (``sha256sum`` format): ``NAME.pte.sha256``."""
    return Path(path).with_name(Path(path).name + ".sha256")


# Programs this process exported, by real path, with their SHA-256: these skip the trial run.
_WRITTEN_HERE: dict[str, str] = {}


def check_pte_file(path: str | Path) -> None:
    """Raise SharekanError unless ``path`` is an intact ExecuTorch program that runs.

    Its SHA-256 must match ``NAME.sha256`` when that exists. Unless this process wrote these
    exact bytes, the program is then loaded and run once on zeros in a child process, because
    a malformed program can crash or abort the process that runs it.
    """
    path = Path(path)
    if not path.is_file():
        raise SharekanError(f"no such file: {path}")
    with path.open("rb") as handle:
        head = handle.read(40)
    if path.stat().st_size < MIN_PTE_BYTES or head[4:8] != PTE_IDENTIFIER:
        raise SharekanError(f"{path.name}: not an ExecuTorch program (.pte)")
    declared = _declared_size(head)
    if declared > path.stat().st_size:  # cut short: refused here, without a trial run in a child process
        raise SharekanError(f"{path.name}: corrupted program (truncated: its header declares {declared:,} bytes, the "
                            f"file has {path.stat().st_size:,}); not loaded")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    sidecar = checksum_path(path)
    if sidecar.is_file():
        recorded = sidecar.read_text(errors="replace").split(maxsplit=1)
        if not recorded or recorded[0].lower() != digest:
            raise SharekanError(f"{path.name}: corrupted program (its bytes do not match {sidecar.name})")
    if _WRITTEN_HERE.get(os.path.realpath(path)) == digest:
        return
    _trial_run(path)


def _declared_size(head: bytes) -> int:
    """The bytes a program's extended header ('eh00' after the flatbuffer's identifier) says the file holds: its
    program, or its segments' end where it has segments; 0 without that header. Read by hand from the 40 bytes
    ExecuTorch writes (exir/_serialize/_program.py's _ExtendedHeader: magic, length, then little-endian uint64
    program_size, segment_base_offset, segment_data_size), since importing exir to parse them costs seconds."""
    if len(head) < 40 or head[8:12] != b"eh00":
        return 0
    program, base, segments = (int.from_bytes(head[at:at + 8], "little") for at in (16, 24, 32))
    return max(program, base + segments if segments else 0)


def _trial_run(path: Path) -> None:
    try:
        probe = subprocess.run([sys.executable, "-c", _PROBE, str(path)], capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        raise SharekanError(f"{path.name}: the program did not finish a trial run in 300 s; not loaded") from None
    if probe.returncode < 0:
        detail = f"it crashed with {signal.Signals(-probe.returncode).name}"
    elif probe.returncode != 0:
        lines = [line for line in probe.stderr.strip().splitlines() if line.strip()] or ["it failed"]
        detail = re.sub(r"^[\w.]*(Error|Exception|Exit): ", "", lines[-1].strip())[:160]
    else:
        return
    raise SharekanError(f"{path.name}: corrupted or unusable ExecuTorch program: a trial run in a separate process "
                        f"failed ({detail}); not loaded")


# Load the program, then run 'forward' once on zeros of its planned input sizes.
_PROBE = """
import sys
from pathlib import Path
import torch
from executorch.runtime import Runtime
program = Runtime.get().load_program(Path(sys.argv[1]))
method = program.load_method("forward")
if method is None:
    sys.exit("no method 'forward'")
meta = method.metadata
method.execute([torch.zeros(tuple(meta.input_tensor_meta(i).sizes())) for i in range(meta.num_inputs())])
"""


@dataclass
class PteProgram:
    """A loaded ``.pte`` whose ``forward`` maps float32 (batch, in) -> (batch, out).

    ``batch`` is the most rows one call takes; ``dynamic`` says whether fewer rows may be passed
    as they are (programs from ``export_pte``) or must be padded to ``batch`` (fixed-batch programs).
    """

    path: Path
    method: object
    batch: int
    in_features: int
    dynamic: bool = False

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Run any number of rows in pieces of at most ``batch`` rows."""
        if x.dim() != 2 or x.shape[1] != self.in_features:
            raise SharekanError(f"expected input of shape (batch, {self.in_features}), got {tuple(x.shape)}")
        outputs = []
        for rows in x.to(torch.float32).split(self.batch):
            if not self.dynamic:
                rows = torch.cat((rows, rows.new_zeros(self.batch - len(rows), self.in_features)))
            try:
                outputs.append(self.method.execute((rows.contiguous(),))[0][: len(rows)])
            except RuntimeError as exc:  # the runtime refused or failed the call
                raise SharekanError(f"{self.path.name}: the ExecuTorch runtime failed ({first_line(exc)})") from exc
        return torch.cat(outputs)


def load_pte(path: str | Path) -> PteProgram:
    """Validate (in a child process) and load a ``.pte`` exported by ``export_pte``."""
    check_pte_file(path)
    from executorch.runtime import Runtime

    program = Runtime.get().load_program(Path(path))
    method = program.load_method("forward")
    meta = method.metadata.input_tensor_meta(0)
    sizes = tuple(meta.sizes())  # the planned (upper-bound) sizes
    if len(sizes) != 2:
        raise SharekanError(f"{Path(path).name}: forward takes shape {sizes}, expected (batch, features)")
    if MAX_BATCH_METHOD not in program.method_names:
        return PteProgram(Path(path), method, sizes[0], sizes[1])
    max_batch = int(program.load_method(MAX_BATCH_METHOD).execute([])[0])
    return PteProgram(Path(path), method, max_batch, sizes[1], dynamic=True)
