"""The README's table of KAN families and save formats, from assets/families/import_checks.json (written by
scripts/import_checks.py from real runs): each family's example, import error and accuracy dense and compressed."""
from __future__ import annotations

from doctables.common import saved


def families_table() -> str:
    """One row per family: its library version, save format, a one-line example, and what the run measured."""
    document = saved("families", "import_checks")
    lines = ["| Family | Library | Save format | Example | Import error vs the library | "
             f"Held-out accuracy, dense → K = {document['codebook_size']}, Int{document['bits']} |",
             "|---|---|---|---|---|---|"]
    for row in document["families"]:
        lines.append(f"| {row['family']} | {row['version']} | {row['save_format']} | `{row['example']}` | "
                     f"{row['import_rel_error']:.1e} | {row['dense_accuracy']:.3f} → {row['compressed_accuracy']:.3f} |")
    lines.append("")
    lines.append(f"Each model was trained for {document['training_steps']} full-batch Adam steps on "
                 f"{document['train_rows']:,} digits and measured on the other {document['held_out_rows']:,} (pykan: a few steps "
                 "of its default fit()), so accuracies are modest; the columns to compare are dense and compressed.")
    return "\n".join(lines)
