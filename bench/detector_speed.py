"""Detector speed: the original SSD predictor against the KAN heads, dense and compressed, in one process.

Every form runs on the same photo, interleaved round by round (each round calls every form once)
until the time budget is spent, twice: the predictor alone (adapter + head, or the original
convolutions, on the photo's cached backbone maps) and the whole ``detect`` (backbone, predictor,
decoding and NMS).

    original conv predictor     the SSD's own box predictor (the teacher)
    dense KAN head              the shipped head as loaded (efficient-kan forward)
    dense pre-scaled            the same head with its spline weights scaled once (the strongest
                                eager dense forward)
    compressed fused kernel     the head compressed at --codebook-size / --bits, run from the codes

Medians and interquartile ranges in ms. The card's speed table is generated from the JSON:

    python bench/detector_speed.py --threads 2 --json assets/runtime/detector_speed_t2.json
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numba
import torch

from dense_baselines import PreScaledKAN
from runtime import host_info, time_interleaved

from sharekan_core.compression import CompressionConfig, compress
from sharekan_core.detection.detector import load_detector, load_head_and_adapter, load_teacher
from sharekan_core.detection.preprocess import load_image
from sharekan_core.detection.weights import HEAD_FILE
from sharekan_core.format import load_compressed, save_compressed
from sharekan_core.io import write_bytes_atomic
from sharekan_core.runtime import CompressedDomainKAN
from sharekan_core.paths import settings

ROOT = Path(__file__).resolve().parents[1]
DETECTOR_DIR = settings().detector_dir
CONV, DENSE, PRE_SCALED, FUSED = ("original conv predictor", "dense KAN head", "dense pre-scaled",
                                  "compressed fused kernel")


def detectors(head_path: Path, codebook_size: int, bits: int) -> dict:
    """Each form as a Detector, by name, all on the same backbone and adapter."""
    dense, adapter = load_head_and_adapter(head_path)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "head.skan"
        save_compressed(compress(dense, CompressionConfig(codebook_size=codebook_size, bits=bits)), path)
        compressed = load_compressed(path)
    heads = {DENSE: dense, PRE_SCALED: PreScaledKAN(dense), FUSED: CompressedDomainKAN(compressed)}
    table = {CONV: load_teacher(DETECTOR_DIR)}
    for name, head in heads.items():
        table[name] = load_detector(head, DETECTOR_DIR, adapter=head_path.parent / adapter)
    return table


def run(args: argparse.Namespace) -> dict:
    """Time the predictor alone and the whole detect for every form; return the JSON document."""
    torch.set_num_threads(args.threads)
    numba.set_num_threads(args.threads)
    image = load_image(args.photo)
    table = detectors(args.head, args.codebook_size, args.bits)
    maps = next(iter(table.values())).feature_maps(image)
    with torch.no_grad():
        predictor = time_interleaved({n: (lambda _, d=d: d.outputs_from_maps(maps)) for n, d in table.items()},
                                     None, args.seconds)
        whole = time_interleaved({n: (lambda _, d=d: d.detect(image, 0.5)) for n, d in table.items()},
                                 None, args.seconds)
        detections = {n: len(d.detect(image, 0.5)) for n, d in table.items()}
    return {"head": str(args.head.relative_to(ROOT) if args.head.is_relative_to(ROOT) else args.head),
            "photo": args.photo.name, "codebook_size": args.codebook_size, "bits": args.bits,
            "host": host_info(args.threads),
            "timing": f"interleaved rounds in one process, {args.seconds:g} s budget per part, median and IQR",
            "predictor": predictor, "detect": whole, "detections_at_0.5": detections}


def main() -> None:
    """Parse arguments, run, print and save the JSON."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--head", type=Path, default=DETECTOR_DIR / HEAD_FILE)
    parser.add_argument("--photo", type=Path, default=ROOT / "assets" / "photos" / "messi5.jpg")
    parser.add_argument("--codebook-size", type=int, default=4096)
    parser.add_argument("--bits", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=10.0, help="time budget per part (default 10)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    document = run(args)
    for part in ("predictor", "detect"):
        print(f"{part}:")
        for name, cell in document[part].items():
            print(f"  {name:<26} {cell['median_ms']:9.2f} ms  IQR {cell['iqr_ms']:7.2f}  ({cell['calls']} calls)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(args.json, json.dumps(document, indent=1, sort_keys=True).encode())


if __name__ == "__main__":
    main()
