"""Distil SSD-MobileNetV2's box predictor into a dense KAN head on frozen backbone features.

Teacher: the original 3x3 conv predictor (background + 20 VOC class logits and box encodings at
all 1917 anchors). Student: ``LocationAdapter`` (1x1 reductions, 3x3 unfold) + a KAN
[576, 448, 150]. Backbone features and teacher outputs of every augmented view are computed once
and cached in memory. Seeded; 2 threads. Writes the head (project model format), the adapter and
a JSON training report into sample_models/ssd_mobilenet_v2/.

    nohup .venv/bin/python scripts/train_detection_head.py > train.log 2>&1 &
"""
from __future__ import annotations

import argparse
import json
import math
import random
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image, ImageEnhance, ImageOps
from safetensors.torch import save_file


from detection_data import random_crop, training_frames, training_photo_paths
from sharekan_core.detection.anchors import ANCHORS_PER_LOCATION, NUM_ANCHORS
from sharekan_core.detection.conv_predictor import ConvBoxPredictor
from sharekan_core.detection.kan_head import (LOCATIONS_PER_MAP, LocationAdapter, build_kan_head,
                                              merge_anchor_outputs)
from sharekan_core.detection.labels import NUM_VOC_SLOTS
from sharekan_core.detection.mobilenet_ssd import SSDFeatureExtractor
from sharekan_core.detection.preprocess import load_image, to_input, to_rgb
from sharekan_core.detection.weights import (ADAPTER_FILE, FEATURES_FILE, HEAD_FILE,
                                             TEACHER_FILE, load_weights)
from sharekan_core.io import save_model
from sharekan_core.paths import settings

DETECTOR_DIR = settings().detector_dir  # the shipped detector (SHAREKAN_MODELS_DIR moves it)


def augment(image: Image.Image, rng: random.Random) -> Image.Image:
    """Random crop (35-100% of the area), horizontal flip and colour jitter."""
    image = random_crop(image, rng, 0.35, (0.6, 1.6), 8)
    if rng.random() < 0.5:
        image = ImageOps.mirror(image)
    for enhancer in (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color):
        image = enhancer(image).enhance(rng.uniform(0.7, 1.3))
    if rng.random() < 0.1:
        image = ImageOps.grayscale(image).convert("RGB")
    return image


def training_images() -> list[tuple[str, Image.Image]]:
    """Every training photo and video frame as (name, RGB image)."""
    photos = [(p.name, load_image(p)) for p in training_photo_paths()]
    return photos + [(name, to_rgb(img)) for name, img in training_frames()]


@torch.no_grad()
def build_cache(images: list[tuple[str, Image.Image]], views: int, seed: int) -> dict:
    """Backbone maps (fp16) and teacher per-location targets (N, 500, 6, 25) for every view."""
    features = load_weights(SSDFeatureExtractor(), DETECTOR_DIR / FEATURES_FILE)
    teacher = load_weights(ConvBoxPredictor(NUM_VOC_SLOTS), DETECTOR_DIR / TEACHER_FILE)
    rng = random.Random(seed)
    maps_per_level = [[] for _ in range(6)]
    targets = []
    for name, image in images:
        for v in range(views):
            view = image if v == 0 else augment(image, rng)
            maps = features(to_input(view))
            logits, encodings = teacher(maps)
            for level, fmap in enumerate(maps):
                maps_per_level[level].append(fmap[0].half())
            targets.append(merge_anchor_outputs(torch.cat([logits, encodings], -1))[0])
    return {"maps": [torch.stack(m) for m in maps_per_level], "targets": torch.stack(targets)}


def sample_locations(targets: torch.Tensor, negatives: int, gen: torch.Generator) -> torch.Tensor:
    """Indices (into 500) of the locations to train on for one view.

    All locations of the small maps, every 19x19 location where the teacher sees any VOC object
    (p > 0.02), and ``negatives`` random other 19x19 locations: most of the 19x19 grid is plain
    background, which would otherwise dominate the step's time.
    """
    first = LOCATIONS_PER_MAP[0]
    probs = torch.sigmoid(targets[:first, :ANCHORS_PER_LOCATION[0], 1:NUM_VOC_SLOTS]).amax(dim=(1, 2))
    positive = torch.nonzero(probs > 0.02).squeeze(1)
    others = torch.nonzero(probs <= 0.02).squeeze(1)
    others = others[torch.randperm(len(others), generator=gen)[:negatives]]
    return torch.cat([positive, others, torch.arange(first, targets.shape[0])])


def distillation_loss(student: torch.Tensor, teacher: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Soft-target BCE on the 21 class slots and presence-weighted smooth-L1 on box encodings.

    student/teacher: (N, 6, 25); valid: (N, 6) masks the 19x19 map's 3 absent anchors.
    """
    teacher_probs = torch.sigmoid(teacher[..., :NUM_VOC_SLOTS])
    presence = teacher_probs[..., 1:].amax(-1) * valid  # how much an object is there, per anchor
    bce = F.binary_cross_entropy_with_logits(student[..., :NUM_VOC_SLOTS], teacher_probs, reduction="none").sum(-1)
    weight = (1.0 + 20.0 * presence) * valid
    cls_loss = (bce * weight).sum() / weight.sum()
    box = F.smooth_l1_loss(student[..., NUM_VOC_SLOTS:], teacher[..., NUM_VOC_SLOTS:], beta=0.5, reduction="none").sum(-1)
    box_loss = (box * presence).sum() / presence.sum().clamp(min=1.0)
    return cls_loss, box_loss


def save_outputs(head, adapter, out: Path, metadata: dict) -> None:
    """Write the KAN head (project model format) and the adapter (safetensors)."""
    save_model(head, out / HEAD_FILE, metadata=metadata)
    save_file({k: v.detach().contiguous() for k, v in adapter.state_dict().items()}, str(out / ADAPTER_FILE))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--views", type=int, default=6, help="views per source image (1 plain + augmented)")
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--images-per-step", type=int, default=9)
    parser.add_argument("--negatives", type=int, default=64, help="random background 19x19 locations per view")
    parser.add_argument("--hidden", type=int, default=448)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--max-minutes", type=float, default=70.0, help="stop early (and say so) past this")
    parser.add_argument("--adapter", type=Path, default=None, help="reuse and freeze this adapter (for extra heads)")
    parser.add_argument("--limit-images", type=int, default=None, help="smoke test on the first N images")
    parser.add_argument("--out", type=Path, default=DETECTOR_DIR)
    args = parser.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(args.seed)
    start = time.time()

    images = training_images()[: args.limit_images]
    print(f"loaded {len(images)} training images in {time.time() - start:.0f}s", flush=True)
    cache = build_cache(images, args.views, args.seed)
    targets = cache["targets"]
    views = targets.shape[0]
    cache_s = time.time() - start
    print(f"cached {views} views of {len(images)} images in {cache_s:.0f}s", flush=True)

    valid = merge_anchor_outputs(torch.ones(1, NUM_ANCHORS, 1))[0, :, :, 0]  # (500, 6): 0 marks absent anchors
    adapter = LocationAdapter()
    if args.adapter is not None:
        adapter = load_weights(adapter, args.adapter).requires_grad_(False)
    head = build_kan_head(args.hidden)
    with torch.no_grad():  # start the head's output at the teacher's mean output
        mean = (targets * valid[..., None]).sum((0, 1)) / (valid.sum(0)[:, None] * views)
        head.layers[-1].output_bias.copy_(mean.reshape(-1))
    params = [p for p in list(head.parameters()) + list(adapter.parameters()) if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=args.lr)
    warmup = 20
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / warmup) * (
        0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(s, args.steps) / args.steps))))
    gen = torch.Generator().manual_seed(args.seed)
    metadata = {"task": "detection", "detector": "ssd_mobilenet_v2", "adapter": ADAPTER_FILE,
                "inputs": "3x3 neighbourhood of 64 tanh-reduced channels, per location (576)",
                "outputs": "6 anchors x (21 logits: background + VOC classes, then ty, tx, th, tw)"}
    log, steps_done, stopped_early = [], 0, False
    train_start = time.time()
    for step in range(args.steps):
        batch = torch.randperm(views, generator=gen)[: args.images_per_step]
        vectors = adapter([m[batch].float() for m in cache["maps"]])  # (b, 500, 576)
        rows, cols = [], []
        for i, view in enumerate(batch.tolist()):
            chosen = sample_locations(targets[view], args.negatives, gen)
            rows.append(torch.full_like(chosen, i))
            cols.append(chosen)
        rows, cols = torch.cat(rows), torch.cat(cols)
        outputs = head(vectors[rows, cols]).reshape(len(rows), 6, -1)
        cls_loss, box_loss = distillation_loss(outputs, targets[batch][rows, cols], valid[cols])
        loss = cls_loss + 2.0 * box_loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        steps_done = step + 1
        if step % 20 == 0 or steps_done == args.steps:
            elapsed = time.time() - train_start
            entry = {"step": steps_done, "locations": len(rows), "cls_loss": round(cls_loss.item(), 5),
                     "box_loss": round(box_loss.item(), 5), "seconds": round(elapsed, 1)}
            log.append(entry)
            print(json.dumps(entry), flush=True)
        if steps_done % 100 == 0:
            save_outputs(head, adapter, args.out, metadata)
        if (time.time() - start) / 60 > args.max_minutes:
            stopped_early = True
            print(f"stopping early at step {steps_done}: past {args.max_minutes} minutes", flush=True)
            break

    save_outputs(head, adapter, args.out, metadata)
    report = {
        "seed": args.seed, "views": views, "source_images": len(images), "views_per_image": args.views,
        "steps": steps_done, "planned_steps": args.steps, "stopped_early": stopped_early,
        "images_per_step": args.images_per_step, "negatives_per_view": args.negatives, "lr": args.lr,
        "head_widths": list(head.config.widths), "head_edges": head.num_edges,
        "head_parameters": sum(p.numel() for p in head.parameters()),
        "adapter_parameters": sum(p.numel() for p in adapter.parameters()),
        "adapter_frozen": args.adapter is not None, "cache_seconds": round(cache_s, 1),
        "train_seconds": round(time.time() - train_start, 1), "total_seconds": round(time.time() - start, 1),
        "threads": torch.get_num_threads(), "training_sources": [name for name, _ in images], "log": log,
    }
    (args.out / "train_report.json").write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k not in ("training_sources", "log")}), flush=True)


if __name__ == "__main__":
    main()
