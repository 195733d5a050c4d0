"""The Runtime page's view model: latency of dense against compressed-domain heads (eager and .pte), cache fit."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch

from ..progress import Progress
from ..model import KAN
from ..results import CompressionResult
from .session import median_forward_ms


def eager_latency(model: KAN, result: CompressionResult, batches: list[int], repeats: int = 5,
                  progress: Progress | None = None) -> pd.DataFrame:
    """Median eager latency (ms) per batch size of the dense model and of the compressed-domain model.

    Inputs are uniform in the grid range [-1, 1].
    """
    from ..runtime.compressed_kan import CompressedDomainKAN

    report = progress or (lambda fraction, message: None)
    forms = {"dense eager": model.eval(), "compressed-domain eager": CompressedDomainKAN(result.compressed).eval()}
    generator = torch.Generator().manual_seed(0)
    rows, total = [], len(batches) * len(forms)
    for batch in batches:
        inputs = torch.rand(batch, model.layers[0].in_features, generator=generator) * 2 - 1
        for name, module in forms.items():
            report(len(rows) / total, f"{name}, batch {batch}")
            rows.append({"batch": batch, "form": name, "ms": median_forward_ms(module, inputs, repeats)})
    report(1.0, "done")
    frame = pd.DataFrame(rows)
    dense = frame[frame["form"] == "dense eager"].set_index("batch")["ms"]
    frame["speed-up vs dense"] = [dense[b] / ms for b, ms in zip(frame["batch"], frame["ms"])]
    return frame


def file_sizes(result: CompressionResult) -> pd.DataFrame:
    """Dense FP32 bytes against the compressed file's bytes, in MB."""
    return pd.DataFrame([{"form": "dense FP32 tensors", "MB": result.storage.dense_bytes / 1e6},
                         {"form": "compressed file", "MB": result.file_bytes / 1e6}])


@dataclass(frozen=True)
class PteExport:
    """Exported programs: sizes (MB) and median latency per form, and the compressed program's bytes."""

    sizes: pd.DataFrame
    latency: pd.DataFrame
    compressed_pte: bytes


def export_programs(model: KAN, result: CompressionResult, folder: Path, xnnpack: bool = True,
                    progress: Progress | None = None) -> PteExport:
    """Export the dense and the compressed-domain model to ``.pte`` in ``folder``, run each through ExecuTorch, time them."""
    from ..runtime.compressed_kan import CompressedDomainKAN
    from ..runtime.executorch_export import export_pte, load_pte

    report = progress or (lambda fraction, message: None)
    in_features = model.layers[0].in_features
    inputs = torch.rand(1, in_features, generator=torch.Generator().manual_seed(0)) * 2 - 1
    sizes, latency, paths = [], [], {}
    forms = {"dense .pte": model.eval(), "compressed-domain .pte": CompressedDomainKAN(result.compressed).eval()}
    for step, (name, module) in enumerate(forms.items()):
        report(step / (2 * len(forms)), f"exporting {name}")
        paths[name] = folder / f"{name.split()[0]}.pte"
        size = export_pte(module, in_features, paths[name], batch=1, xnnpack=xnnpack)
        sizes.append({"form": name, "MB": size / 1e6})
        report((step + 0.5) / len(forms), f"running {name} with ExecuTorch")
        program = load_pte(paths[name])
        latency.append({"batch": 1, "form": name, "ms": median_forward_ms(program, inputs)})
    report(1.0, "done")
    return PteExport(pd.DataFrame(sizes), pd.DataFrame(latency), paths["compressed-domain .pte"].read_bytes())


@dataclass(frozen=True)
class CacheFit:
    """Working sets (bytes, with the host level each fits in), host cache sizes, and named parts' L2 fit."""

    working_sets: pd.DataFrame
    host_caches: pd.DataFrame
    parts: pd.DataFrame


def cache_fit(result: CompressionResult) -> CacheFit:
    """The runtime's residency report for ``result`` as chart-ready tables."""
    from ..runtime.cache_model import residency_report

    report = residency_report(result.compressed)
    head = report["head"]
    sets = [("whole head: dense FP32 weights", head["dense_bytes"], head["dense_fits"]),
            ("whole head: compressed (codebooks + streamed)", head["compressed_total_bytes"],
             head["compressed_total_fits"]),
            ("whole head: codebooks (float, resident)", head["codebook_float_bytes"], head["codebook_float_fits"]),
            ("whole head: indices, gains, biases, base (streamed)", head["streamed_bytes"], head["streamed_fits"])]
    for layer in report["layers"]:
        sets.append((f"layer {layer['layer']}: codebook (float)", layer["codebook_float_bytes"], layer["codebook_fits"]))
        sets.append((f"layer {layer['layer']}: streamed per call", layer["streamed_total_bytes"], layer["streamed_fits"]))
    working = pd.DataFrame([{"working set": name, "bytes": size, "fits in (this host)": level}
                            for name, size, level in sets])
    caches = pd.DataFrame([{"cache": name, "bytes": size} for name, size in report["host_caches"].items()])
    parts = pd.DataFrame([{"part": p["part"], "kind": p["kind"], "L2 MiB": p["l2_bytes"] / 2**20,
                           "codebooks fit in L2": p["codebooks_fit_l2"], "compressed head fits": p["compressed_fits_l2"],
                           "dense head fits": p["dense_fits_l2"], "source": p["source"]} for p in report["parts"]])
    return CacheFit(working, caches, parts)
