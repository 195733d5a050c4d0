"""ExecuTorch programs of compressed KANs: .pte size against the compressed file, the fixed program overhead, and
latency against the dense .pte at batches 1 and 16, interleaved in one process.

Sizes: every compressed program is ``KANProgram`` (what ``export`` writes: codes at their stored width),
portable kernels only, so the .pte's constant tensors can be read back and compared with the file.
The overhead is fitted over one-layer heads of growing width (same operators, growing payload):
pte_bytes = overhead + slope * file_bytes; a one-operator program gives ExecuTorch's own floor.

Latency: the digits KAN's dense .pte (KAN.forward) against its compressed programs, each exported with
portable kernels and with XNNPACK (matrix products only), timed round-robin in one process; medians and
interquartile ranges in ms. A program runs on one thread (portable kernels; XNNPACK's pool is left as is).

    python bench/pte_programs.py --json assets/runtime/pte_programs.json
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np
import torch

from paper_head import paper_head
from runtime import busy, time_interleaved

from sharekan_core.compression import CompressionConfig, compress
from sharekan_core.format import save_compressed
from sharekan_core.io import read_model, write_bytes_atomic
from sharekan_core.costs.cache_residency import host_caches
from sharekan_core.runtime.executorch_export import export_pte, load_pte, program_contents
from sharekan_core.runtime.program import KANProgram
from sharekan_core.paths import settings

DIGITS = settings().models_dir / "digits_kan.safetensors"
DIGITS_CONFIGS = {"K=16 Int8": CompressionConfig(codebook_size=16, bits=8),
                  "K=64 Int4": CompressionConfig(codebook_size=64, bits=4)}
LADDER_WIDTHS = (16, 64, 160)  # one-layer heads: 256, 4,096 and 25,600 edges
LADDER_CONFIG = CompressionConfig(codebook_size=256, bits=8)


def host() -> dict:
    """CPU, core count, caches, library versions and load average of this run."""
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").is_file() else ""
    names = re.findall(r"^model name\s*:\s*(.+)$", cpuinfo, flags=re.MULTILINE)
    return {"cpu": names[0] if names else platform.processor(), "cores": os.cpu_count(), "caches": host_caches(),
            "torch": torch.__version__, "executorch": version("executorch"), "load_average": list(os.getloadavg())}


class OneOperator(torch.nn.Module):
    """The smallest useful program: one multiply."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 2.0


def program_row(compressed, folder: Path, name: str) -> dict:
    """Export ``compressed`` as a portable program; its file and .pte sizes and what the .pte holds."""
    file_bytes = save_compressed(compressed, folder / f"{name}.skan")
    tick = time.perf_counter()
    pte_bytes = export_pte(KANProgram(compressed), compressed.layers[0].in_features, folder / f"{name}.pte")
    contents = program_contents(folder / f"{name}.pte")
    return {"name": name, "file_bytes": file_bytes, "pte_bytes": pte_bytes, "pte_over_file": pte_bytes / file_bytes,
            "constant_bytes": contents.constant_bytes, "operator_and_plan_bytes": pte_bytes - contents.constant_bytes,
            "export_s": time.perf_counter() - tick}


def sizes(folder: Path) -> dict:
    """The size ladder, its least-squares line and the one-operator floor."""
    rows = [program_row(compress(paper_head(width, prototypes=64), LADDER_CONFIG), folder, f"head_{width}x{width}")
            for width in LADDER_WIDTHS]
    slope, overhead = np.polyfit([r["file_bytes"] for r in rows], [r["pte_bytes"] for r in rows], 1)
    floor = export_pte(OneOperator(), 4, folder / "one_operator.pte")
    return {"ladder": rows, "ladder_config": "K = 256, Int8, one layer (width x width), portable kernels",
            "fit": {"overhead_bytes": float(overhead), "bytes_per_file_byte": float(slope)},
            "one_operator_program_bytes": floor}


def latency(folder: Path, seconds: float) -> dict:
    """Per batch: every digits program's median and IQR, and each compressed one's speed against the dense .pte."""
    model = read_model(DIGITS).model.eval()
    programs, rows = {}, []
    for xnnpack in (False, True):
        kernels = "XNNPACK" if xnnpack else "portable"
        path = folder / f"digits_dense_{kernels}.pte"
        rows.append({"name": f"dense, {kernels}", "pte_bytes": export_pte(model, 64, path, xnnpack=xnnpack)})
        programs[f"dense, {kernels}"] = load_pte(path)
        for label, config in DIGITS_CONFIGS.items():
            compressed = compress(model, config)
            path = folder / f"digits_{label.replace(' ', '_').replace('=', '')}_{kernels}.pte"
            rows.append({"name": f"{label}, {kernels}", "pte_bytes": export_pte(KANProgram(compressed), 64, path,
                                                                                xnnpack=xnnpack),
                         "file_bytes": save_compressed(compressed, path.with_suffix(".skan"))})
            programs[f"{label}, {kernels}"] = load_pte(path)
    for row in rows:
        beside = (f"  (file {row['file_bytes']:,} B, {row['pte_bytes'] / row['file_bytes']:.2f}x)"
                  if "file_bytes" in row else "")
        print(f"digits {row['name']:<22} .pte {row['pte_bytes']:>9,} B{beside}")
    rng = np.random.default_rng(0)
    table = {name: (lambda x, program=program: program(torch.from_numpy(x))) for name, program in programs.items()}
    batches = {}
    for batch in (1, 16):
        x = rng.uniform(-1, 1, size=(batch, 64)).astype(np.float32)
        cells = time_interleaved(table, x, seconds)
        for name, cell in cells.items():
            dense = cells[f"dense, {name.rsplit(', ', 1)[1]}"]["median_ms"]
            cell["dense_over_this"] = dense / cell["median_ms"]
        batches[str(batch)] = cells
        print_batch(batch, cells)
    return {"model": DIGITS.name, "programs": rows, "batches": batches}


def print_batch(batch: int, cells: dict) -> None:
    """One table block: median, IQR and speed against the dense .pte of the same kernels."""
    print(f"batch {batch}:")
    for name, cell in cells.items():
        print(f"  {name:<24} {cell['median_ms']:8.3f} ms  IQR {cell['iqr_ms']:6.3f}  "
              f"dense / this {cell['dense_over_this']:5.2f}  ({cell['calls']} calls)")


def main() -> None:
    """Measure sizes and latency, print them and save the JSON."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=4.0, help="time budget per batch (default 4)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(1)
    document = {"host": host(), "timing": f"interleaved rounds in one process, {args.seconds:g} s per batch, "
                                          "median and IQR"}
    with tempfile.TemporaryDirectory() as folder:
        document["sizes"] = sizes(Path(folder))
        for row in document["sizes"]["ladder"]:
            print(f"{row['name']:<14} file {row['file_bytes']:>9,} B  .pte {row['pte_bytes']:>9,} B "
                  f"({row['pte_over_file']:.2f}x)  constants {row['constant_bytes']:>9,} B")
        fit = document["sizes"]["fit"]
        print(f"fit: .pte = {fit['overhead_bytes']:,.0f} B + {fit['bytes_per_file_byte']:.3f} x file bytes; "
              f"a one-operator program: {document['sizes']['one_operator_program_bytes']:,} B")
        document["latency"] = latency(Path(folder), args.seconds)
    document["host"].update(load_average_after=list(os.getloadavg()))
    host_now = document["host"]
    host_now["busy"] = busy(host_now["load_average"][0], host_now["load_average_after"][0], threads=1)
    print("the machine was busy: these timings are noisy" if document["host"]["busy"] else "the machine was quiet")
    if args.json:
        write_bytes_atomic(args.json, json.dumps(document, indent=1, sort_keys=True).encode())


if __name__ == "__main__":
    main()
