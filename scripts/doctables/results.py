"""The result tables of docs/results.md (and the README's headline table): sweeps, operating points, transfer,
scaling, the universal codebook and the fuzz suite's tally, each from its saved JSON in assets/ (the method
comparison is doctables/methods.py's)."""
from __future__ import annotations

from doctables.common import change_interval_words, mb, reference_counts, saved


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
    rows = sorted(document["rows"], key=lambda r: (r["config"]["codebook_size"], -r["config"]["bits"]))
    with_intervals = "intervals" in rows[0]
    lines = [f"Codebook learned on `{document['source']}`, applied without retraining to `{document['target']}` "
             f"({rows[0]['metric_label']})."
             + (" A partial run: the rows measured so far." if document.get("complete") is False else ""), ""]
    if with_intervals:
        bootstrap = rows[0]["intervals"]["bootstrap"]
        lines += [f"Intervals: {bootstrap['level']:.0%} bootstrap over {bootstrap['over']} ({bootstrap['resamples']:,} "
                  f"resamples, seed {bootstrap['seed']}), paired with dense; {teacher_boxes_words(rows[0])}.", ""]
    fidelity = "fidelity" in rows[0]
    lines += ["| K | bits | target dense | own codebook | transferred codebook | retained | "
              + ("retained 95% CI | " if with_intervals else "")
              + ("fidelity: transferred vs target's dense head (95% CI) | " if fidelity else "")
              + "coef rel. L2 own / transferred |",
              "|---:|---:|---:|---:|---:|---:|" + ("---|" if with_intervals else "") + ("---|" if fidelity else "")
              + "---|"]
    for r in rows:
        cells = [str(r["config"]["codebook_size"]), bits_name(r["config"]["bits"]), f"{r['target_dense']:.4f}",
                 f"{r['target_own_codebook']:.4f}", f"{r['target_transferred_codebook']:.4f}",
                 f"{r['retained_fraction_of_dense']:.1%}"]
        if with_intervals:
            moved = r["intervals"]["transferred_codebook"]
            cells.append(f"{percent_interval(moved['retained_ci95'])}: {retention_verdict(moved['retained_ci95'])}")
        if fidelity:
            versus = r["fidelity"]["transferred_codebook"]
            cells.append(f"{versus['map50']:.3f} ({versus['ci95'][0]:.3f}–{versus['ci95'][1]:.3f}), "
                         f"{r['fidelity']['dense_boxes']:,} dense boxes")
        cells.append(f"{r['coef_rel_l2_own']:.3f} / {r['coef_rel_l2_transferred']:.3f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def transfer_split_table(name: str) -> str:
    """Retention with the FP32 codebook and at Int8 per K: the gap is what quantization costs beyond clustering."""
    document = saved("transfer", name)
    by_config = {(r["config"]["codebook_size"], r["config"]["bits"]): r for r in document["rows"]}
    sizes = sorted({k for k, _ in by_config})
    lines = ["| K | codebook | retained, FP32 codebook (95% CI) | retained, Int8 (95% CI) | Int8 − FP32 |",
             "|---:|---|---|---|---|"]
    for k in sizes:
        fp32, int8 = by_config.get((k, 32)), by_config.get((k, 8))
        if fp32 is None or int8 is None or "intervals" not in fp32:
            continue
        for which, label in (("own_codebook", "own"), ("transferred_codebook", "transferred")):
            a, b = fp32["intervals"][which], int8["intervals"][which]
            kept_a, kept_b = (row[f"target_{which}"] / row["target_dense"] for row in (fp32, int8))
            gap = round(100 * (kept_b - kept_a), 1) + 0.0  # + 0.0 turns -0.0 into 0.0
            lines.append(f"| {k} | {label} | {kept_a:.1%} ({percent_interval(a['retained_ci95'])}) | "
                         f"{kept_b:.1%} ({percent_interval(b['retained_ci95'])}) | {gap:+.1f} pts |")
    return "\n".join(lines)


def bits_name(bits: int) -> str:
    return "FP32" if bits == 32 else f"Int{bits}"


def percent_interval(interval: list[float]) -> str:
    return f"{interval[0]:.1%}–{interval[1]:.1%}"


def retention_verdict(interval: list[float]) -> str:
    """'no measurable loss' where a retention interval includes 100% (a share above it is never a gain)."""
    return "no measurable loss" if interval[1] >= 1.0 else "loss"


def teacher_boxes_words(row: dict) -> str:
    boxes = row.get("teacher_boxes", {})
    return (f"{sum(boxes.values())} teacher boxes on {row.get('images', '?')} images ("
            + ", ".join(f"{label} {n}" for label, n in sorted(boxes.items(), key=lambda t: -t[1])) + ")")


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
    with_intervals = "teacher_interval" in first
    lines = [f"Seed {first['seed']}, layer codebooks, every component at Int{first['bits']}, the compressed head run "
             "in the compressed domain. "
             f"Dense head: {document['dense_teacher_map50']:.4f} mAP@0.5"
             + (f" (95% CI {document['dense_interval']['ci95'][0]:.3f}–{document['dense_interval']['ci95'][1]:.3f})"
                if with_intervals else "")
             + f" and {document['dense_teacher_map']:.4f} mAP@[.5:.95] agreement with the SSD teacher"
             + (f", over {document['teacher_boxes']} teacher boxes on {document['images']} held-out images; intervals "
                f"are a {document['bootstrap']['level']:.0%} bootstrap over the images "
                f"({document['bootstrap']['resamples']:,} resamples, seed {document['bootstrap']['seed']}), paired "
                "with dense" if with_intervals else "") + ".", "",
             f"| K | MB (dense {mb(document['rows'][0]['dense_bytes'])}) | ratio | teacher agreement mAP@0.5 | change vs dense | agreement with dense head mAP@0.5 | mAP@[.5:.95] |",
             "|---:|---:|---:|---:|---:|---:|---:|"]
    for r in document["rows"]:
        change = f"{(r['teacher_map50'] - document['dense_teacher_map50']) * 100:+.1f} pts"
        if with_intervals:
            change += change_interval_words(r["teacher_interval"])
        lines.append(f"| {r['codebook_size']} | {mb(r['compressed_bytes'])} | {r['ratio']:.1f}x | {r['teacher_map50']:.4f} | "
                     f"{change} | {r['versus_dense_map50']:.4f} | {r['versus_dense_map']:.4f} |")
    return "\n".join(lines)


def per_class_table(name: str) -> str:
    """The dense head's AP@0.5 per class with the teacher boxes behind it (classes with enough boxes)."""
    document = saved("operating_points", name)
    if "per_class" not in document:
        return "(per-class figures not saved yet: scripts/make_assets.py detection --only operating)"
    lines = [f"Classes with at least {document['per_class_min_boxes']} teacher boxes; all classes' boxes: "
             + ", ".join(f"{label} {n}" for label, n in document["boxes_per_class"].items()) + ".", "",
             "| class | teacher boxes | dense AP@0.5 |", "|---|---:|---:|"]
    for label, row in document["per_class"].items():
        lines.append(f"| {label} | {row['boxes']} | {row['ap50']:.4f} |")
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


