"""Codebook affine grouping: one (minimum, step) per codeword (format version 1) against one per
coefficient column (version 2). Compresses a dense model both ways and prints storage ratio and
coefficient relative L2 error of each.

    python bench/codebook_grouping.py --model PATH --codebook-size 65536 --bits 8 [--json OUT]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sharekan_core.compression import CompressionConfig, compress, decompress, quantize  # noqa: E402
from sharekan_core.compression import compressor  # noqa: E402
from sharekan_core.format.accounting import storage_report  # noqa: E402
from sharekan_core.io import read_model  # noqa: E402
from sharekan_core.fidelity.report import fidelity_report  # noqa: E402


def measure(model, config: CompressionConfig, codebook_grouping: str) -> dict:
    """Compress with codebooks grouped by ``codebook_grouping``; return ratio, bytes and coefficient error."""
    def forced(values, bits, name="tensor", grouping="rows"):
        return quantize(values, bits, name, grouping=codebook_grouping if name.startswith("codebook") else grouping)

    with mock.patch.object(compressor, "quantize", forced):
        compressed = compress(model, config)
    report = storage_report(model, compressed)
    return {"grouping": codebook_grouping, "ratio": report.ratio, "compressed_bytes": report.compressed_bytes,
            "codebook_bytes": report.by_component()["codebook"],
            "coef_rel_l2": fidelity_report(model, decompress(compressed)).coef_rel_l2}


def main() -> None:
    """Measure both groupings and print them."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--codebook-size", type=int, default=65_536)
    parser.add_argument("--bits", type=int, default=8)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    model = read_model(args.model).model
    config = CompressionConfig(codebook_size=args.codebook_size, bits=args.bits)
    rows = [measure(model, config, grouping) for grouping in ("rows", "columns")]
    for row in rows:
        print(f"codebook affine per {'codeword' if row['grouping'] == 'rows' else 'column':<8}: "
              f"ratio {row['ratio']:.2f}x, {row['compressed_bytes']:,} B (codebook {row['codebook_bytes']:,} B), "
              f"coefficient rel. L2 {row['coef_rel_l2']:.5f}")
    if args.json:
        args.json.write_text(json.dumps({"model": str(args.model), "codebook_size": args.codebook_size,
                                         "bits": args.bits, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
