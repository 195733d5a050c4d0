"""The result tables of docs/results.md (and the README's headline table): sweeps, operating points, transfer,
scaling, every method, the universal codebook and the fuzz suite's tally, each from its saved JSON in assets/."""
from __future__ import annotations


import numpy as np

from sharekan_core.experiments.provenance import earlier_version_note
from sharekan_core.paths import shipped_path

from doctables.common import mb, method_name, model_version, reference_counts, saved, single_box_swing


def sweep_table(name: str, bits: tuple[int, ...] = (8,)) -> str:
    document = saved("sweeps", name)
    dense = next(r for r in document["summary"] if r["method"] == "dense")
    lines = [f"Metric: {document['metric_label']} ({document['metric']}); mean ± std over seeds; "
             f"dense {mb(dense['stored_bytes'])} MB, {document['metric']} {dense['metric_mean']:.4f}.", "",
             "| method | K | bits | sparsity | MB | ratio | metric (mean ± std) | coef rel. L2 |",
             "|---|---:|---:|---:|---:|---:|---|---:|"]
    rows = [r for r in document["summary"] if r["method"] == "pruning"
            or (r["method"] == "sharekan" and r["bits"] in bits)]
    rows.sort(key=lambda r: (r["method"], r["bits"] or 0, r["codebook_size"] or 0, r["sparsity"] or 0))
    for r in rows:
        sparsity = "" if r["sparsity"] is None else f"{r['sparsity']:.0%}"
        lines.append(f"| {r['method']} | {r['codebook_size'] or ''} | {r['bits']} | {sparsity} | "
                     f"{mb(r['stored_bytes'])} | {dense['stored_bytes'] / r['stored_bytes']:.1f}x | "
                     f"{r['metric_mean']:.4f} ± {r['metric_std']:.4f} | {r['coef_rel_l2_mean']:.3f} |")
    lines.append(f"\n(sweep run time {document.get('seconds', '?')} s; all points in `assets/sweeps/{name}.json`)")
    return "\n".join(lines)


def transfer_table(name: str) -> str:
    document = saved("transfer", name)
    lines = [f"Codebook learned on `{document['source']}`, applied without retraining to `{document['target']}` "
             f"({document['rows'][0]['metric_label']}).", "",
             "| K | bits | target dense | own codebook | transferred codebook | retained | coef rel. L2 own / transferred |",
             "|---:|---:|---:|---:|---:|---:|---|"]
    for r in document["rows"]:
        lines.append(f"| {r['config']['codebook_size']} | {r['config']['bits']} | {r['target_dense']:.4f} | "
                     f"{r['target_own_codebook']:.4f} | {r['target_transferred_codebook']:.4f} | "
                     f"{r['retained_fraction_of_dense']:.1%} | {r['coef_rel_l2_own']:.3f} / {r['coef_rel_l2_transferred']:.3f} |")
    return "\n".join(lines)


def scaling_table(name: str) -> str:
    document = saved("scaling", name)
    curve = {row["heads"]: row for row in document["curve"]}
    lines = [f"Heads: {', '.join(document['heads'])}; K = {document['codebook_size']}, Int{document['bits']}; "
             f"shared codebooks {document['shared_codebook_bytes']:,} B, per head {document['per_head_bytes'][0]:,} B.", "",
             "| heads | dense MB | shared-codebook MB | ratio |", "|---:|---:|---:|---:|"]
    for n in (1, 10, 50):
        row = curve[n]
        lines.append(f"| {n} | {mb(row['dense_bytes'])} | {mb(row['shared_codebook_bytes'])} | "
                     f"{row['dense_bytes'] / row['shared_codebook_bytes']:.1f}x |")
    checks = "; ".join(f"N={c['heads']}: file {c['file_bytes']:,} B = {c['accounted_bytes']:,} accounted + "
                       f"{c['header_bytes']:,} header" for c in document["file_checks"])
    lines.append(f"\nReal bundle files: {checks}.")
    return "\n".join(lines)


def operating_table(name: str) -> str:
    document = saved("operating_points", name)
    first = document["rows"][0]
    lines = [f"Seed {first['seed']}, layer codebooks, every component at Int{first['bits']}, the compressed head run "
             "in the compressed domain. "
             f"Dense head: {document['dense_teacher_map50']:.4f} mAP@0.5 and {document['dense_teacher_map']:.4f} "
             f"mAP@[.5:.95] agreement with the SSD teacher.", "",
             f"| K | MB (dense {mb(document['rows'][0]['dense_bytes'])}) | ratio | teacher agreement mAP@0.5 | change vs dense | agreement with dense head mAP@0.5 | mAP@[.5:.95] |",
             "|---:|---:|---:|---:|---:|---:|---:|"]
    for r in document["rows"]:
        lines.append(f"| {r['codebook_size']} | {mb(r['compressed_bytes'])} | {r['ratio']:.1f}x | {r['teacher_map50']:.4f} | "
                     f"{(r['teacher_map50'] - document['dense_teacher_map50']) * 100:+.1f} pts | "
                     f"{r['versus_dense_map50']:.4f} | {r['versus_dense_map']:.4f} |")
    return "\n".join(lines)


def reliability_table() -> str:
    """The file fuzz suite's tally (scripts/reliability_summary.py writes it)."""
    document = saved("reliability", "summary")
    rows = [("hostile inputs tried", document["cases"]),
            ("refused with one clean `error:` line, exit 2", document["clean_error"]),
            ("accepted with a correct result (harmless change, checked)", document["correct_result"]),
            ("unclean ends (traceback, internal error, exit 1, several lines)", document["unclean"]),
            ("code executed from a file", document["code_executed"]),
            ("half-written or leftover output files", document["half_written"])]
    lines = ["| outcome | cases |", "|---|---:|"] + [f"| {name} | {count:,} |" for name, count in rows]
    lines.append(f"\nFrom `{document['suite']}` ({'passed' if document['suite_passed'] else 'FAILED'}; "
                 f"{document['cpu_seconds']:.0f} s of CPU, {document['seconds']:.0f} s wall at load average "
                 f"{document['load_average']} on {document['cores']} cores); counts in `assets/reliability/summary.json`.")
    return "\n".join(lines)



def methods_table(stem: str) -> str:
    """Every method of assets/sweeps/<stem>.json (<model>_methods or <model>_methods_at_<commit>): sizes, metric,
    best per size class, FP32/Int8 split; issue 10's targets on the detection head."""
    name = stem.split("_methods")[0]
    targets = name == "detection_head"
    flips = "_at_" not in stem  # the earlier head never found the single-box class, so no flip moves it
    document = saved("sweeps", stem)
    summary = document["summary"]
    dense = next(r for r in summary if r["method"] == "dense")
    ratio = lambda r: dense["stored_bytes"] / r["stored_bytes"]  # noqa: E731
    points = lambda r: (r["metric_mean"] - dense["metric_mean"]) * 100  # noqa: E731
    state = "" if document.get("complete", True) else \
        f" Partial: {len(document['points'])} of {document['planned_points']} planned points measured."
    shipped = shipped_path(name)
    stale = earlier_version_note(document, shipped) if shipped is not None else None
    if stale:
        state += f" **{stale}**"
    lines = [f"Metric: {document['metric_label']}; dense {mb(dense['stored_bytes'])} MB at {dense['metric_mean']:.4f}. "
             f"Model file {model_version(document)}; calibration: {document.get('calibration_rows', '?')} "
             f"rows {document.get('calibration', '')}. Mean ± std over the seeds shown; uniform and GPTQ are deterministic.{state}",
             "", "| method | K | bits | MB | ratio | metric (mean ± std, seeds) | vs dense | coef rel. L2 |",
             "|---|---:|---:|---:|---:|---|---:|---:|"]
    rows = sorted((r for r in summary if r["method"] != "dense"), key=lambda r: -r["stored_bytes"])
    for r in rows:
        lines.append(f"| {method_name(r)} | {r['codebook_size'] or ''} | {r['bits']} | {mb(r['stored_bytes'])} | "
                     f"{ratio(r):.1f}x | {r['metric_mean']:.4f} ± {r['metric_std']:.4f} ({r['seeds']}) | "
                     f"{points(r):+.2f} pts | {r['coef_rel_l2_mean']:.3f} |")
    if all("class_metric_mean" in r for r in [dense, *rows]):  # sweeps measured since points kept per-class parts
        names = list(dense["class_metric_mean"])
        lines += ["", "The metric's per-class parts (mean over seeds), to tell a class that rests on a few boxes "
                  "from the rest:", "", "| method | K | bits | ratio | " + " | ".join(names) + " |",
                  "|---|---:|---:|---:|" + "---:|" * len(names)]
        for r in [dense, *rows]:
            lines.append(f"| {method_name(r)} | {r['codebook_size'] or ''} | {r['bits']} | {ratio(r):.1f}x | "
                         + " | ".join(f"{r['class_metric_mean'].get(n, float('nan')):.3f}" for n in names) + " |")
    methods = sorted({method_name(r) for r in rows})
    lines += ["", "Best mean metric of each method at or beyond each compression ratio (pts vs dense; "
              "'-' where the method has no configuration that small):", "",
              "| at least | " + " | ".join(methods) + " |", "|---:|" + "---:|" * len(methods)]
    for target in (4, 8, 12, 16, 20, 30):
        cells = []
        for method in methods:
            fitting = [r for r in rows if method_name(r) == method and ratio(r) >= target]
            best = max(fitting, key=lambda r: r["metric_mean"], default=None)
            cells.append("-" if best is None else f"{points(best):+.2f} ({ratio(best):.1f}x)")
        lines.append(f"| {target}x | " + " | ".join(cells) + " |")
    if targets:
        lines += ["", *target_lines(rows, ratio, points, flips)]
    split = [(r, next((q for q in rows if q["method"] == r["method"] and q["variant"] == r["variant"]
                       and q["codebook_size"] == r["codebook_size"] and q["bits"] == 8), None))
             for r in rows if r["method"] == "sharekan" and r["bits"] == 32]
    if split:
        lines += ["", "Clustering loss (FP32 codebook against dense) and quantization loss (Int8 against FP32), "
                  "SHARe-KAN at the same K:", "", "| variant | K | FP32 vs dense | Int8 vs FP32 |", "|---|---:|---:|---:|"]
        for fp32, int8 in split:
            quantization = "-" if int8 is None else f"{(int8['metric_mean'] - fp32['metric_mean']) * 100:+.2f} pts"
            lines.append(f"| {fp32['variant'] or 'data-blind'} | {fp32['codebook_size']} | {points(fp32):+.2f} pts | {quantization} |")
    lines.append(f"\n(run time {document.get('seconds', '?')} s on Dask workers; all points in `assets/sweeps/{stem}.json`)")
    return "\n".join(lines)



def target_lines(rows: list[dict], ratio, points, flips: bool = True) -> list[str]:
    """Issue 10's targets, read off the measured rows: data-aware SHARe-KAN's loss at 12x and 16x, and dominance
    (with what one single-box class's rank can do to them)."""
    aware = [r for r in rows if method_name(r) == "sharekan (data-aware)"]
    swing = single_box_swing() if flips else 0.0
    lines = ["Issue 10's targets on the detection head (mean over the seeds measured):"]
    if swing:
        lines[0] += (f" On this reference one box's rank moves mAP@0.5 by {swing:.1f} points, and the means below "
                     "include such flips wherever a point sits above dense or its seeds spread widely; a verdict "
                     "between two points closer than that is not resolved by this reference.")
    for target, allowed in ((12, 0.5), (16, 1.0)):
        best = max((r for r in aware if ratio(r) >= target), key=lambda r: r["metric_mean"], default=None)
        if best is None:
            lines.append(f"- at {target}x or more: no data-aware SHARe-KAN point measured.")
        else:
            verdict = "met" if points(best) >= -allowed else "not met"
            above = f" (above dense by less than the {swing:.1f}-point single-box swing: that box's rank, not a gain)" \
                if 0 < points(best) <= swing else ""
            lines.append(f"- at {target}x or more (allowed loss {allowed} pt): best data-aware SHARe-KAN "
                         f"{points(best):+.2f} pts at {ratio(best):.1f}x, K = {best['codebook_size']}, "
                         f"{best['seeds']} seed(s): {verdict}{above}.")
    # Where one box can flip the mean, dominance is judged on the classes with more than 2 held-out boxes
    # (their mean per-class AP, when the sweep kept per-class parts), and the all-class mean is shown beside it.
    counts = reference_counts("teacher_heldout_detections.json")[1] if swing else {}
    robust = sorted(c for c, n in counts.items() if n > 2)
    by_class = bool(robust) and all("class_metric_mean" in r for r in rows)
    score = (lambda r: float(np.mean([r["class_metric_mean"][c] for c in robust]))) if by_class \
        else (lambda r: r["metric_mean"])  # noqa: E731
    if by_class:
        lines.append(f"- Dominance below is judged on {' and '.join(robust)} (mean AP@0.5 of the classes with more "
                     "than 2 held-out boxes), because one box's rank can flip the all-class mean.")
    for r in (r for r in rows if r["method"] in ("uniform", "gptq") and ratio(r) >= 8):
        rivals = [a for a in rows if a["method"] == "sharekan" and ratio(a) >= ratio(r)]  # as small or smaller
        best = max(rivals, key=score, default=None)
        if best is None:
            lines.append(f"- {r['method']} {r['bits']}-bit ({ratio(r):.1f}x, {points(r):+.2f} pts): no SHARe-KAN "
                         f"point at this size or smaller was measured.")
        else:
            gap = score(best) - score(r)
            word = "tied (within 0.5 pt) with" if abs(gap) < 0.005 else "dominated by" if gap > 0 else "NOT dominated by"
            on = f"; {' / '.join(robust)} mean {score(r):.3f} against {score(best):.3f}" if by_class else ""
            lines.append(f"- {r['method']} {r['bits']}-bit ({ratio(r):.1f}x, {points(r):+.2f} pts): {word} "
                         f"{method_name(best)} K = {best['codebook_size']} Int{best['bits']} ({ratio(best):.1f}x, "
                         f"{points(best):+.2f} pts{on}).")
    return lines


def universal_table() -> str:
    """The universal codebook against each model's own codebook (assets/universal/universal_codebook.json)."""
    document = saved("universal", "universal_codebook")
    lines = [f"`sample_models/{document['codebook']}`: K = {document['size']:,} shapes of D = {document['width']}, "
             f"Int{document['bits']}, {document['codebook_bytes']:,} bytes, fitted on {', '.join(document['sources'])}; "
             f"`{document['held_out']}` is held out. {document['comparison']}.", "",
             "| model | in sources | edges | own codebook rows | coef rel. L2 own / universal | task metric dense / own / universal | bytes own / universal (codebook counted) | per-model bytes without the codebook |",
             "|---|---|---:|---:|---|---|---|---:|"]
    for name, row in document["models"].items():
        own, shared = row["own"], row["universal"]
        metric = (f"{row['dense_metric']:.4f} / {own['metric']:.4f} / {shared['metric']:.4f}"
                  if "dense_metric" in row else "not measured")
        lines.append(f"| {name} | {'yes' if row['in_codebook_sources'] else '**no**'} | {row['edges']:,} | "
                     f"{own['codebook_rows']:,} | {own['coef_rel_l2']:.3f} / {shared['coef_rel_l2']:.3f} | {metric} | "
                     f"{own['stored_bytes']:,} / {shared['stored_bytes']:,} | {shared['bytes_without_codebook']:,} |")
    return "\n".join(lines)



def reference_caveat(file_name: str, operating_points: bool = True) -> str:
    """How many boxes per class a held-out teacher reference holds, and what one box weighs in mAP@0.5."""
    reference, counts = reference_counts(file_name)
    single = sorted(label for label, n in counts.items() if n == 1)
    text = (f"Held-out reference `{file_name}`: {sum(counts.values())} teacher boxes on {len(reference['images'])} "
            f"images ({', '.join(f'{label} {n}' for label, n in sorted(counts.items(), key=lambda t: -t[1]))}). "
            f"mAP@0.5 is the mean over these {len(counts)} classes")
    if single:
        text += (f"; {', '.join(single)} {'rests on one box' if len(single) == 1 else 'rest on one box each'}, "
                 f"whose AP is 1.0 when it ranks first and 0.5 when "
                 f"second, so one box can move mAP@0.5 by {0.5 / len(counts):.3f}. Points above dense come from "
                 "that, not from compression helping")
        if operating_points:
            text += "; the operating-point table's agreement with the dense head's own boxes is the steadier measure"
    return text + "."


