"""The Runtime page's view model: latency of dense against compressed heads (eager and .pte), cache fit, the
working-set curve measured on this host, and the energy estimate."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch

from ..progress import Progress
from ..model import KAN
from ..results import CompressionResult
from ..costs.energy import SOURCE as ENERGY_SOURCE
from ..timing import interleaved, quartiles, speed_words
from .session import median_forward_ms


DENSE_FORM = "dense head, eager PyTorch (efficient-kan forward)"


def compressed_form(module: torch.nn.Module) -> str:
    """How a compressed-domain module runs eager calls: the fused numba kernel, or the pure-torch path."""
    if getattr(module, "fused", None) is not None:
        return "compressed head, fused numba kernel"
    return "compressed head, eager PyTorch"


def first_run_note() -> str | None:
    """What to say before the first compressed run on this machine: the fused kernels compile once (None when
    they are compiled or cached on disk)."""
    from ..runtime.compressed_kan import CompressedDomainKAN

    note = CompressedDomainKAN.compile_note()
    return None if note is None else f"The first compressed run on this machine is slower: {note}."


def eager_latency(model: KAN, result: CompressionResult, batches: list[int], repeats: int = 15,
                  progress: Progress | None = None) -> pd.DataFrame:
    """Median and interquartile range (ms) per batch size of the dense and the compressed head.

    The two forms are timed alternately, one call each per round, after a warm-up call each;
    inputs are uniform in the grid range [-1, 1].
    """
    from ..runtime.compressed_kan import CompressedDomainKAN

    report = progress or (lambda fraction, message: None)
    compressed = CompressedDomainKAN(result.compressed).eval()
    report(0.0, compressed.first_call_note() or "warming up")
    forms = {DENSE_FORM: model.eval(), compressed_form(compressed): compressed}
    generator = torch.Generator().manual_seed(0)
    rows = []
    for step, batch in enumerate(batches):
        report(step / len(batches), f"batch {batch}: {repeats} interleaved rounds")
        inputs = torch.rand(batch, model.layers[0].in_features, generator=generator) * 2 - 1
        with torch.no_grad():
            timed = interleaved({name: (lambda module=module: module(inputs)) for name, module in forms.items()},
                                repeats)
        for name, timings in timed.items():
            q1, median, q3 = quartiles(timings.samples_ms)
            rows.append({"batch": batch, "form": name, "median ms": median, "q1 ms": q1, "q3 ms": q3})
    report(1.0, "done")
    return pd.DataFrame(rows)


def speed_sentences(latency: pd.DataFrame) -> list[str]:
    """One sentence per batch size comparing the medians of ``eager_latency``'s two forms."""
    sentences = []
    for batch, rows in latency.groupby("batch", sort=True):
        medians = rows.set_index("form")["median ms"]
        dense = medians[DENSE_FORM]
        compressed = medians.drop(DENSE_FORM).iloc[0]
        sentences.append(f"Batch {batch}: the compressed head is **{speed_words(dense, compressed)}** than the dense "
                         f"head (median {compressed:.3f} ms against {dense:.3f} ms).")
    return sentences


def file_sizes(result: CompressionResult) -> pd.DataFrame:
    """Dense FP32 bytes against the compressed file's bytes, in MB."""
    return pd.DataFrame([{"form": "dense FP32 tensors", "MB": result.storage.dense_bytes / 1e6},
                         {"form": "compressed file", "MB": result.file_bytes / 1e6}])


DENSE_PTE, COMPRESSED_PTE = "dense .pte", "compressed-domain .pte"  # the forms export_programs writes


@dataclass(frozen=True)
class PteExport:
    """Exported programs: sizes (MB) and median latency per form, and the compressed program's bytes."""

    sizes: pd.DataFrame
    latency: pd.DataFrame
    compressed_pte: bytes


def export_programs(model: KAN, result: CompressionResult, folder: Path, xnnpack: bool = True,
                    progress: Progress | None = None) -> PteExport:
    """Export the dense model and the compressed one (its codes at their stored width, ``KANProgram``) to ``.pte``
    in ``folder``, run each through ExecuTorch, time them. A failed export raises SharekanError."""
    from ..runtime.executorch_export import export_pte, load_pte
    from ..runtime.program import KANProgram

    report = progress or (lambda fraction, message: None)
    in_features = model.layers[0].in_features
    inputs = torch.rand(1, in_features, generator=torch.Generator().manual_seed(0)) * 2 - 1
    sizes, latency, paths = [], [], {}
    forms = {DENSE_PTE: model.eval(), COMPRESSED_PTE: KANProgram(result.compressed).eval()}
    for step, (name, module) in enumerate(forms.items()):
        report(step / (2 * len(forms)), f"exporting {name}")
        paths[name] = folder / f"{name.split()[0]}.pte"
        size = export_pte(module, in_features, paths[name], xnnpack=xnnpack)
        sizes.append({"form": name, "MB": size / 1e6})
        report((step + 0.5) / len(forms), f"running {name} with ExecuTorch")
        program = load_pte(paths[name])
        latency.append({"batch": 1, "form": name, "ms": median_forward_ms(program, inputs)})
    report(1.0, "done")
    return PteExport(pd.DataFrame(sizes), pd.DataFrame(latency), paths[COMPRESSED_PTE].read_bytes())


def program_size_warnings(exported: PteExport) -> list[str]:
    """A plain sentence when the compressed .pte is not smaller than the dense one (none otherwise); it holds
    whatever the host was doing, unlike ``program_speed_warnings``."""
    sizes = exported.sizes.set_index("form")["MB"]
    if sizes[COMPRESSED_PTE] < sizes[DENSE_PTE]:
        return []
    return [f"The compressed program is not smaller than the dense one: {sizes[COMPRESSED_PTE]:.4f} MB against "
            f"{sizes[DENSE_PTE]:.4f} MB. A program also carries its operators, which in a model this small can "
            "outweigh the splines the codebook saves."]


def program_speed_warnings(exported: PteExport) -> list[str]:
    """A plain sentence when the compressed .pte ran slower than the dense one (none otherwise); a verdict that
    only holds when nothing else ran during the measurement."""
    times = exported.latency.set_index("form")["ms"]
    if times[COMPRESSED_PTE] <= times[DENSE_PTE]:
        return []
    return [f"The compressed program runs slower than the dense one here: {times[COMPRESSED_PTE]:.2f} ms against "
            f"{times[DENSE_PTE]:.2f} ms per batch-1 call."]


@dataclass(frozen=True)
class CacheFit:
    """Working sets (bytes, with the host level each fits in), host cache sizes, and named parts' L2 fit."""

    working_sets: pd.DataFrame
    host_caches: pd.DataFrame
    parts: pd.DataFrame


def cache_fit(result: CompressionResult) -> CacheFit:
    """The runtime's residency report for ``result`` as chart-ready tables; whole-head sets as the fused kernel
    holds them at batch 1 (``costs.memory_traffic``)."""
    from ..costs.cache_residency import fits_in, residency_report
    from ..costs.memory_traffic import compressed_sets, footprint

    report = residency_report(result.compressed)
    caches, head = report["host_caches"], report["head"]
    fused = compressed_sets(result.compressed, 1)
    sizes = [("whole head: dense FP32 weights", head["dense_edge_bytes"]),
             ("whole head: compressed, fused kernel at batch 1 (codes, codebooks, tables)", footprint(fused)),
             ("whole head: codebooks at their stored width (resident)", fused["resident"]),
             ("whole head: per-edge codes (streamed once a call)", fused["stream"] - fused["resident"])]
    for layer in report["layers"]:
        sizes.append((f"layer {layer['layer']}: codebook (stored)", layer["codebook_stored_bytes"]))
        sizes.append((f"layer {layer['layer']}: indices, gains, biases, base (stored)", layer["streamed_total_bytes"]))
    sets = [(name, size, fits_in(size, caches)) for name, size in sizes]
    working = pd.DataFrame([{"working set": name, "bytes": size, "fits in (this host)": level}
                            for name, size, level in sets])
    caches = pd.DataFrame([{"cache": name, "bytes": size} for name, size in report["host_caches"].items()])
    parts = pd.DataFrame([{"part": p["part"], "kind": p["kind"], "L2 MiB": p["l2_bytes"] / 2**20,
                           "codebooks fit in L2": p["codebooks_fit_l2"], "compressed head fits": p["compressed_fits_l2"],
                           "dense head fits": p["dense_fits_l2"], "source": p["source"]} for p in report["parts"]])
    return CacheFit(working, caches, parts)


def saved_working_set(assets_dir: Path) -> dict | None:
    """The curve ``bench/working_set.py`` saved under ``assets_dir/runtime``; None when absent or unreadable."""
    try:
        document = json.loads((assets_dir / "runtime" / "working_set.json").read_text())
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) and isinstance(document.get("rows"), list) else None


def working_set_frame(document: dict) -> pd.DataFrame:
    """Long table (edges, form, median/q1/q3 ms, bytes touched, where it fits) from a saved working-set curve."""
    names = document.get("forms") or {"dense": document["dense_form"], "compressed": document["compressed_form"]}
    return pd.DataFrame([{"edges": row["edges"], "form": names[form], "median ms": row[form]["median_ms"],
                          "q1 ms": row[form]["q1_ms"], "q3 ms": row[form]["q3_ms"],
                          "bytes touched": row[f"{form}_touched_bytes"],
                          "bytes needed in cache": row.get(f"{form}_footprint_bytes"), "fits in": row[f"{form}_fits"]}
                         for row in document["rows"] for form in names])


def energy_frame(result: CompressionResult, batch: int = 1, caches: dict[str, int] | None = None) -> pd.DataFrame:
    """Bytes touched per call and the estimated energy per inference of each dense form and the compressed head."""
    from ..costs.cache_residency import host_caches
    from ..costs.energy import dense_vs_compressed

    rows = dense_vs_compressed(result.compressed, batch, host_caches() if caches is None else caches)
    return pd.DataFrame([{"form": r["form"], "bytes touched": r["touched_bytes"],
                          "bytes needed in cache": r["footprint_bytes"],
                          "streamed bytes per edge": r["streamed_bytes_per_edge"],
                          "read from": ", ".join(f"{level} {nbytes / 1e3:,.1f} kB"
                                                 for level, nbytes in r["bytes_by_level"].items()),
                          "memory nJ (estimate)": _span(r["memory_nj"]),
                          "arithmetic nJ (estimate)": round(r["arithmetic_nj"], 1),
                          "total nJ (estimate)": _span(r["total_nj"])} for r in rows])


def _span(values: list[float]) -> str:
    low, high = values
    return f"{low:,.1f}" if abs(high - low) < 0.05 else f"{low:,.1f} to {high:,.1f}"
