"""The result tables of docs/results.md (and the README's headline table): sweeps, operating points, transfer,
scaling, the universal codebook and the fuzz suite's tally, each from its saved JSON in assets/ (the method
comparison is doctables/methods.py's)."""
from __future__ import annotations

from doctables.common import mb, reference_counts, saved


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


