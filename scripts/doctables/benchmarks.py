"""The benchmark tables of docs/benchmarks.md: bench/runtime.py's runs and the speed targets' verdicts, the codebook
grouping comparison and bench/working_set.py's curve, each from its saved JSON in assets/runtime/."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from sharekan_core import paper as paper_figures
from sharekan_core.costs import energy
from sharekan_core.timing import speed_words

from doctables.common import ASSETS, load, saved


def working_set_table() -> str:
    """Batch-1 latency of dense against compressed heads by size on this host, with the energy estimate."""
    document = saved("runtime", "working_set")
    caches = ", ".join(f"{name} {size / 2**20:g} MiB" for name, size in document["host"]["caches"].items())
    lines = [f"Batch 1, {document['threads']} thread(s), host caches {caches}. Dense eager: {document['dense_form']}; "
             f"dense kernel: {document.get('forms', {}).get('dense_kernel', '-')}; compressed: {document['compressed_form']}, K = {document['codebook_size']:,}, Int{document['bits']}. "
             f"Median [interquartile range] of {document['repeats']} interleaved samples; synthetic square heads "
             "with random codes, the dense form being each head's decompression.", "",
             "| edges | dense bytes needed (fits in) | compressed bytes needed (fits in) | dense eager ms | "
             "dense kernel ms | compressed ms | compressed vs dense eager | compressed vs dense kernel | "
             "energy per inference, dense / compressed (nJ, estimate) |",
             "|---:|---|---|---|---|---|---|---|---|"]

    def timing(r: dict, key: str) -> str:
        return f"{r[key]['median_ms']:.3f} [{r[key]['q1_ms']:.3f}-{r[key]['q3_ms']:.3f}]" if key in r else "-"

    for r in document["rows"]:
        words = speed_words(r["dense"]["median_ms"], r["compressed"]["median_ms"])
        versus_kernel = speed_words(r["dense_kernel"]["median_ms"], r["compressed"]["median_ms"]) \
            if "dense_kernel" in r else "-"
        dense_nj, compressed_nj = (f"{low:,.0f}" if high - low < 0.5 else f"{low:,.0f}-{high:,.0f}"
                                   for low, high in (r["dense_energy_nj"], r["compressed_energy_nj"]))
        lines.append(f"| {r['edges']:,} | {r['dense_footprint_bytes']:,} ({r['dense_fits']}) | "
                     f"{r['compressed_footprint_bytes']:,} ({r['compressed_fits']}) | "
                     f"{timing(r, 'dense')} | {timing(r, 'dense_kernel')} | {timing(r, 'compressed')} | "
                     f"{words} | {versus_kernel} | {dense_nj} / {compressed_nj} |")
    faster = [r["edges"] for r in document["rows"] if r["compressed_over_dense_speed"] >= 1]
    slower = [r["edges"] for r in document["rows"] if r["compressed_over_dense_speed"] < 1]
    summary = (f"On this run the compressed kernel beat the pre-scaled eager dense head at {len(faster)} of "
               f"{len(document['rows'])} sizes" + (f" (up to {max(faster):,} edges)" if faster else "")
               + (f" and lost from {min(slower):,} edges" if slower else "") + ".")
    if "load_average" in document:
        busy = document["load_average"]
        shared = busy.get("busy", True)  # bench/working_set.py records it by bench/runtime.py's rule
        summary += (f" The host's 1-minute load average was {busy['before']:.1f} before and {busy['after']:.1f} "
                    f"after the run on {busy['cores']} cores"
                    f" ({'other jobs shared them' if shared else 'a quiet machine: the run itself keeps one core busy'}).")
    lines.append("\n" + summary)
    return "\n".join(lines)


def energy_figure(name: str) -> str:
    """A figure of the energy price table the working-set curve was estimated with: its ``source`` (as the saved
    curve records it), ``sram_top_mb`` (the largest SRAM it prices) or ``dram_nj`` (the DRAM range per access)."""
    if name == "source":
        return saved("runtime", "working_set")["energy_source"]
    if name == "sram_top_mb":
        return f"{energy.SRAM_PJ_PER_64BIT[-1][0] / 2**20:g}"
    low, high = energy.DRAM_PJ_PER_64BIT
    return {"dram_nj": f"{low / 1000:g}-{high / 1000:g}"}[name]


# The runtime issue's speed targets at Int8: (head, K, threads) -> [(batch, ratio key, at least, aimed at)].
RUNTIME_TARGETS = {
    ("paper", 4096, 1): [(1, "speedup", 2.5, None), (16, "speedup", 1.0, 1.2), (256, "speedup", 1.0, None)],
    ("paper", 4096, 2): [(1, "speedup", 4.0, None)],
    ("paper", 65536, 1): [(1, "speedup", 1.8, None)],
    ("shipped", 4096, 1): [(1, "speedup", 2.0, None), (16, "speedup", 1.0, 1.2), (256, "speedup", 1.0, None)],
}
RUNTIME_RUNS = [("shipped", 4096), ("paper", 4096), ("paper", 65536)]


def runtime_document(head: str, codebook_size: int, threads: int) -> dict | None:
    return load("runtime", f"{head}_head_K{codebook_size}_int8_t{threads}")


def runtime_run_table(document: dict) -> str:
    """One benchmark run: every form's median [IQR] per batch, ratios, and bytes streamed per edge."""
    host = document["host"]
    storage = document["storage"]
    lines = [f"`{Path(document['model']).name}`, widths {document['widths']}, {document['edges']:,} edges; "
             f"K = {document['codebook_size']:,}, Int{document['bits']}: {storage['ratio']:.2f}x smaller "
             f"({storage['dense_bytes']:,} B -> {storage['compressed_bytes']:,} B), coefficient rel. L2 "
             f"{document['coef_rel_l2']:.4f}. {host['threads']} thread(s) on {host['cores']} cores ({host['cpu']}); "
             f"1-minute load average {host['load_average'][0]:.1f} before, {host['load_average_after'][0]:.1f} after "
             f"{'(other jobs shared the cores)' if host.get('busy', True) else '(a quiet machine)'}. "
             f"{document['timing']}.", ""]
    order = ("efficient-kan eager", "dense pre-scaled eager", "dense local-support kernel", "compressed fused kernel",
             "compressed torch path")
    forms = [f for f in order if f in next(iter(document["batches"].values()))["forms"]]
    lines.append("| batch | " + " | ".join(f"{f} ms" for f in forms)
                 + " | speedup (vs pre-scaled eager) | vs dense kernel | vs efficient-kan | "
                   "streamed B/edge dense / compressed | max rel. error vs decompressed |")
    lines.append("|---:|" + "---|" * len(forms) + "---:|---:|---:|---|---:|")
    for batch, cell in document["batches"].items():
        timings = " | ".join(f"{cell['forms'][f]['median_ms']:.2f} [{cell['forms'][f]['iqr_ms']:.2f}]" for f in forms)
        touched = cell["bytes_touched"]
        lines.append(f"| {batch} | {timings} | {cell['speedup']:.2f}x | {cell['speedup_vs_dense_kernel']:.2f}x | "
                     f"{cell['speedup_vs_efficient_kan']:.2f}x | "
                     f"{touched['dense pre-scaled eager']['stream_bytes_per_edge']:.1f} / "
                     f"{touched['compressed fused kernel']['stream_bytes_per_edge']:.1f} | "
                     f"{cell['fused_vs_decompressed_rel_error']:.1e} |")
    return "\n".join(lines)


def runtime_targets() -> list[str]:
    """Each of issue 9's speed targets: met or missed, by how much, at every saved thread count."""
    lines = []
    for (head, size, threads), targets in RUNTIME_TARGETS.items():
        document = runtime_document(head, size, threads)
        if document is None:
            continue
        busy = " (machine busy during the run)" if document["host"].get("busy") else ""
        for batch, key, goal, aim in targets:
            cell = document["batches"].get(str(batch))
            if cell is None:
                continue
            got = cell[key]
            verdict = "met" if got >= goal else f"missed by {(goal - got) / goal:.0%} of the target"
            if aim is not None and got >= goal:
                verdict += f", {'and' if got >= aim else 'but not'} the {aim:g}x aimed at"
            edges = document["edges"]
            route = ", ".join(dict.fromkeys(cell.get("route", [])))
            lines.append(f"- {head} head, K = {size:,}, batch {batch}, {threads} thread(s){busy}: {key} {got:.2f}x "
                         f"against >= {goal:g}x: **{verdict}** (compressed{f' ({route} route)' if route else ''} "
                         f"{cell['compressed_ms']:.2f} ms = {cell['compressed_ms'] * 1e6 / edges / batch:.2f} ns per "
                         f"edge-row; pre-scaled dense {cell['dense_ms']:.2f} ms = "
                         f"{cell['dense_ms'] * 1e6 / edges / batch:.2f} ns per edge-row)")
    for head, size in RUNTIME_RUNS:  # the rule: never slower than dense at any batch measured
        for threads in (1, 2):
            document = runtime_document(head, size, threads)
            for batch, cell in ({} if document is None else document["batches"]).items():
                if cell["speedup"] < 1:
                    lines.append(f"- **Slower than dense:** {head} head, K = {size:,}, batch {batch}, {threads} "
                                 f"thread(s): {cell['speedup']:.2f}x (compressed {cell['compressed_ms']:.2f} ms, "
                                 f"{', '.join(dict.fromkeys(cell.get('route', [])))} route; pre-scaled dense "
                                 f"{cell['dense_ms']:.2f} ms).")
    for head, size in RUNTIME_RUNS:
        document = runtime_document(head, size, 1)  # the 2-thread runs' spread is too wide to explain
        cell = None if document is None else document["batches"].get("1")
        if cell is None:
            continue
        kernel = cell["forms"]["dense local-support kernel"]["median_ms"]
        dense_bytes = cell["bytes_touched"]["dense pre-scaled eager"]["stream_bytes_per_edge"]
        compressed_bytes = cell["bytes_touched"]["compressed fused kernel"]["stream_bytes_per_edge"]
        line = (f"- Why, measured ({head} head, K = {size:,}, batch 1, 1 thread): the dense head through the fused "
                f"kernel's loop in numba takes {kernel / cell['dense_ms']:.2f}x the eager pre-scaled time while "
                f"streaming the same {dense_bytes:.0f} B/edge; the compressed kernel streams {compressed_bytes:.1f} "
                f"B/edge ({dense_bytes / compressed_bytes:.0f}x fewer) and takes {cell['compressed_ms'] / kernel:.2f}x "
                f"the dense kernel's time.")
        if cell["compressed_ms"] >= kernel:
            line += (" Moving fewer bytes does not shorten the call, so on this host the per-edge work (index, "
                     "k + 1 code gathers and decodes), not memory traffic, sets the time.")
        else:
            line += (f" It takes {cell['compressed_ms'] * 1e6 / document['edges']:.2f} ns per edge against the dense "
                     f"eager head's {cell['dense_ms'] * 1e6 / document['edges']:.2f} ns.")
        lines.append(line)
    spreads = [timing["iqr_ms"] / timing["median_ms"] for head, size in RUNTIME_RUNS
               for document in [runtime_document(head, size, 2)] if document is not None and document["host"].get("busy")
               for cell in document["batches"].values() for timing in cell["forms"].values()]
    if spreads:
        lines.append(f"- Busy 2-thread runs shared the 2 cores with other jobs (load averages above): their "
                     f"interquartile ranges are a median {np.median(spreads):.0%} and up to {max(spreads):.0%} of "
                     f"the medians, so their ratios are noise, not a thread-scaling result.")
    return lines


def grouping_table() -> str:
    """Codebook affine per codeword (format 1) against per column (format 2): size and fidelity."""
    lines = []
    for name in ("paper_head_K65536_int8", "shipped_head_K4096_int8"):
        document = load("runtime", f"codebook_grouping_{name}")
        if document is None:
            continue
        for row in document["rows"]:
            label = "per codeword (before)" if row["grouping"] == "rows" else "per coefficient column (now)"
            lines.append(f"| `{Path(document['model']).name}` | {document['codebook_size']:,} | {label} | "
                         f"{row['codebook_bytes']:,} | {row['compressed_bytes']:,} | {row['ratio']:.2f}x | "
                         f"{row['coef_rel_l2']:.5f} |")
    if not lines:
        return "(no codebook grouping comparison saved; run `python bench/codebook_grouping.py`)"
    table = ["| head | K | codebook affine | codebook B | compressed B | ratio | coefficient rel. L2 |",
             "|---|---:|---|---:|---:|---:|---:|", *lines]
    paper = load("runtime", "codebook_grouping_paper_head_K65536_int8")
    if paper is not None:
        before, now = (next(r for r in paper["rows"] if r["grouping"] == g) for g in ("rows", "columns"))
        change = now["coef_rel_l2"] / before["coef_rel_l2"] - 1
        fidelity = "met" if change <= 0 else f"missed: {change:.1%} higher"
        table.append(f"\nTarget (1M-edge head, K = 65,536, Int8): ratio >= the paper's {paper_figures.INT8_RATIO:g}x: "
                     f"**{'met' if now['ratio'] >= paper_figures.INT8_RATIO else 'missed'}** "
                     f"({now['ratio']:.2f}x, was {before['ratio']:.2f}x); coefficient error no worse: **{fidelity}** "
                     f"({now['coef_rel_l2']:.5f} against {before['coef_rel_l2']:.5f}).")
        run = runtime_document("paper", 65536, 1)
        if run is not None and "L2" in run["host"]["caches"]:
            l2 = run["host"]["caches"]["L2"]
            verb = "fits" if now["codebook_bytes"] <= l2 else "does not fit"
            table.append(f"The Int8 codebook at K = 65,536 takes {now['codebook_bytes']:,} B and {verb} this host's "
                         f"{l2 // 1024:,} KiB L2 per core (sysfs).")
    return "\n".join(table)


def runtime_runs() -> str:
    """Every saved bench/runtime.py run, one heading and table each, in RUNTIME_RUNS order, 1 then 2 threads."""
    parts = []
    for head, size in RUNTIME_RUNS:
        for threads in (1, 2):
            document = runtime_document(head, size, threads)
            if document is not None:
                parts.append(f"#### {head} head, K = {size:,}, {threads} thread(s)\n\n{runtime_run_table(document)}\n")
    return "\n".join(parts).rstrip() or "(no runs saved; run `python bench/runtime.py`)"


def speed_targets() -> str:
    """The runtime targets' verdicts as a markdown list."""
    return "\n".join(runtime_targets()) or "(no runs saved)"


def recorded_output(name: str) -> str:
    """A benchmark's printed output saved verbatim as assets/bench_output/<name>.txt, as a code block."""
    path = ASSETS / "bench_output" / f"{name}.txt"
    if not path.is_file():
        return f"(no saved output `assets/bench_output/{name}.txt`)"
    return f"```\n{path.read_text().rstrip()}\n```"


def pte_programs_table() -> str:
    """bench/pte_programs.py's saved run: .pte size against the compressed file, then each program's latency."""
    document = saved("runtime", "pte_programs")
    sizes, latency = document["sizes"], document["latency"]
    fit = sizes["fit"]
    lines = [f"Size ladder ({sizes['ladder_config']}); a one-operator program is "
             f"{sizes['one_operator_program_bytes']:,} B, and the fit is .pte bytes = {fit['overhead_bytes']:,.0f} B + "
             f"{fit['bytes_per_file_byte']:.2f} x file bytes.", "",
             "| head | file B | .pte B | .pte / file |", "|---|---:|---:|---:|"]
    lines += [f"| {r['name']} | {r['file_bytes']:,} | {r['pte_bytes']:,} | {r['pte_over_file']:.2f}x |"
              for r in sizes["ladder"]]
    batches = list(latency["batches"])
    lines += ["", f"`{latency['model']}` exported whole; {document['timing']}, {document['host']['cpu']}, "
              f"ExecuTorch {document['host']['executorch']}, "
              f"{'other jobs shared the cores' if document['host'].get('busy', True) else 'a quiet machine'}. "
              "Median ms [interquartile range], and dense's median over this program's (below 1.00x: slower than "
              "dense):", "",
              "| program | file B | .pte B | " + " | ".join(f"batch {b}" for b in batches) + " |",
              "|---|---:|---:|" + "---|" * len(batches)]
    for program in latency["programs"]:
        cells = [latency["batches"][b][program["name"]] for b in batches]
        file_bytes = f"{program['file_bytes']:,}" if "file_bytes" in program else "-"
        lines.append(f"| {program['name']} | {file_bytes} | {program['pte_bytes']:,} | "
                     + " | ".join(f"{c['median_ms']:.2f} [{c['iqr_ms']:.2f}], {c['dense_over_this']:.2f}x"
                                  for c in cells) + " |")
    return "\n".join(lines)


def convkan_runtime_table(model: str = "digits_c32") -> str:
    """bench/convkan_runtime.py's saved run: the convkan net dense and compressed, per thread count and batch."""
    document = saved("runtime", f"convkan_{model}")
    layers = "; ".join(f"{name} {layer['patch_widths'][0]} -> {layer['patch_widths'][1]} per patch, {layer['edges']:,} "
                       "edges" for name, layer in document["layers"].items())
    codebooks = "; ".join(
        f"K = {int(size):,}: {c['dense_bytes']:,} B -> {c['compressed_bytes']:,} B "
        f"({c['dense_bytes'] / c['compressed_bytes']:.1f}x smaller), accuracy {c['accuracy']:.3f}, max rel. error "
        f"against its decompressed net {c['compressed_vs_decompressed_rel_error']:.1e}"
        for size, c in document["codebooks"].items())
    lines = [f"{document['what']}; {layers}. Trained here ({document['training']}); imported from the state dict "
             f"within {document['import_rel_error']:.1e} relative of the library's forward; held-out accuracy "
             f"{document['dense_accuracy']:.3f} on {document['held_out']} digits. Int{document['bits']}, calibrated: "
             f"{codebooks}. Timing: {document['timing']}. Median [quartiles] ms of the whole net on N images; ratios are "
             "the dense form's median over the compressed one's (below 1: compressed is slower).", ""]
    for threads, run in document["threads"].items():
        host = run["host"]
        compressed = [name for name in next(iter(run["batches"].values()))["speedup"]]
        forms = list(next(iter(run["batches"].values()))["forms"])
        lines += [f"{threads} thread(s) on {host['cores']} cores ({host['cpu']}); 1-minute load average "
                  f"{host['load_average'][0]:.1f} before, {host['load_average_after'][0]:.1f} after "
                  f"{'(other jobs shared the cores: not quiet-machine figures)' if host.get('busy', True) else '(a quiet machine)'}.",
                  "", "| N images (patch rows) | " + " | ".join(f"{name} ms" for name in forms) + " | "
                  + " | ".join(f"{name} vs pre-scaled | vs convkan" for name in compressed) + " |",
                  "|---:|" + "---|" * len(forms) + "---:|---:|" * len(compressed)]
        for batch, cell in run["batches"].items():
            timings = " | ".join(f"{t['median_ms']:.2f} [{t['q1_ms']:.2f}-{t['q3_ms']:.2f}]" for t in cell["forms"].values())
            ratios = " | ".join(f"{cell['speedup'][name]:.2f}x | {cell['speedup_vs_convkan'][name]:.2f}x"
                                for name in compressed)
            lines.append(f"| {batch} ({' + '.join(f'{rows:,}' for rows in cell['patch_rows'])}) | {timings} | {ratios} |")
        lines.append("")
    return "\n".join(lines).rstrip()
