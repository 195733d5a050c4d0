"""The README's table of KAN families and save formats, from assets/families/import_checks.json (written by
scripts/import_checks.py from real runs): each family's path (a file, or in-place only), example, import error and
accuracy dense and compressed."""
from __future__ import annotations

from doctables.common import saved


def families_table() -> str:
    """One row per family: its library version, path, save format, a one-line example, and what the run measured."""
    document = saved("families", "import_checks")
    lines = ["| Family | Library | Path | Save format | Example | Import error vs the library | "
             f"Held-out accuracy, dense → K = {document['codebook_size']}, Int{document['bits']} |",
             "|---|---|---|---|---|---|---|"]
    for row in document["families"]:
        lines.append(f"| {row['family']} | {row['version']} | {row['path']} | {row['save_format']} | `{row['example']}` | "
                     f"{row['import_rel_error']:.1e} | {row['dense_accuracy']:.3f} → {row['compressed_accuracy']:.3f} |")
    lines.append("")
    lines.append(f"Each model was trained for {document['training_steps']} full-batch Adam steps on "
                 f"{document['train_rows']:,} digits and measured on the other {document['held_out_rows']:,} (pykan: a few steps "
                 "of its default fit()), so accuracies are modest; the columns to compare are dense and compressed.")
    in_place = [row for row in document["families"] if row["path"] != "file"]
    if in_place:
        families = [row["family"] for row in in_place]
        names = " and ".join([", ".join(families[:-1]), families[-1]] if len(families) > 1 else families)
        lines.append("")
        lines.append(f"{names}: in-place only. {'Its' if len(families) == 1 else 'Their'} saved state "
                     f"dict{'s are' if len(families) > 1 else ' is'} refused by the file importer (the run checked it: "
                     f"\"{in_place[0]['file_refusal'].split(': ', 1)[1].split(' at prefix')[0].split(', e.g.')[0]}\"), "
                     "so the CLI cannot read it; the live module is compressed with `sk.compress_`, calibrated with "
                     "`sk.calibration_from`.")
    lines.append("")
    lines.append("FastKAN, ChebyKAN, Gram/KAGN and torchkan nets are read from their state dicts with what those do "
                 "not record stated (the activation; the LayerNorm ChebyKAN's nets keep between layers, with "
                 "`--between layernorm`; a module without tensors between layers is refused), compressed layer by "
                 "layer and run from the compressed file by decoding each edge's coefficients, then applying the "
                 "basis (the fused kernel serves B-spline KANs without norms; torchkan's LayerNorm and PReLU after "
                 "each layer and the global bases run decode-and-apply); `decompress --layout native` writes the "
                 "library's own state dict. The convkan row's example compresses one ConvKAN; its numbers are "
                 "the whole net's, each ConvKAN read from the file by its prefix. A grouped ConvKAN (groups > 1) is "
                 "refused by name: as one layer its cross-group edges would be zeros stored as real edges.")
    return "\n".join(lines)
