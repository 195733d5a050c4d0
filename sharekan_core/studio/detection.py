"""The Detect page's view model over ``sharekan_core.detection.detector``: timed runs, drawing and agreement.

Boxes are in pixels of the upright original image; labels are the head's label set's names (VOC's for the
shipped head).
"""
from __future__ import annotations

import io
import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image, ImageDraw, ImageFont

from ..detection.labels import LABEL_SETS, VOC, VOC_CLASSES, LabelSet
from ..detection.preprocess import load_image
from ..detection.weights import ADAPTER_FILE, HEAD_FILE, adapter_file, heldout_photo_dir, teacher_file
from ..errors import SharekanError
from ..results import CompressionResult
from ..tasks.detection_match import MATCH_IOU, disagreements, match_f1, matched_pairs  # noqa: F401 (the Detect page's)
from ..paths import bundled_photos, settings
from ..tasks.detection import DEFAULT_SCORE
from ..timing import interleaved

MAX_IMAGE_BYTES = 50 * 2**20
PALETTE = ("#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#9a6324", "#800000",
           "#469990", "#000075", "#808000", "#bfef45", "#fabed4", "#ffd8b1", "#dcbeff", "#aaffc3", "#a9a9a9",
           "#ffe119", "#000000")


@dataclass(frozen=True)
class DetectionRun:
    """Detections (objects with label, score, box) of one detector on one image and its wall time."""

    detections: list
    milliseconds: float


def threshold_help(directory: Path | None = None) -> str:
    """Why the default threshold is what it is, from the shipped head's measured calibration (check_report.json,
    written by scripts/check_detection_head.py); a plain sentence when that report is absent or unreadable."""
    path = (directory or settings().detector_dir) / "check_report.json"
    plain = "Detections scoring at least this are shown, for every head alike."
    try:
        report = json.loads(path.read_text())
        photos, frames = report["score_ratio_median"], report.get("heldout_frames", {}).get("score_ratio_median")
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return plain
    if not isinstance(photos, (int, float)):
        return plain
    text = (f"{plain} On the bundled photos the shipped KAN head scores a median {photos:.2f} of what the SSD "
            f"teacher scores on the same boxes")
    if isinstance(frames, (int, float)):
        text += f" ({frames:.2f} on held-out frames of the videos it trained on)"
    if DEFAULT_SCORE >= 0.5:
        return text + f", so the default is the usual {DEFAULT_SCORE} (measured in check_report.json)."
    return text + f", so the default sits at {DEFAULT_SCORE} rather than the usual 0.5 (measured in check_report.json)."


def head_files_present(directory: Path | None = None) -> bool:
    """True when the trained KAN head and its location adapter are in ``directory`` (the settings' detector folder)."""
    directory = directory or settings().detector_dir
    return (directory / HEAD_FILE).is_file() and (directory / ADAPTER_FILE).is_file()


def head_label_set(head: torch.nn.Module) -> LabelSet:
    """The label set a KAN head predicts, told by its output width (150: VOC, 390: the other COCO classes)."""
    from ..detection.kan_head import check_head_shape

    widths = head.config.widths
    return check_head_shape(widths[0], widths[-1])


def dense_detector(head: torch.nn.Module, metadata: dict | None = None):
    """The shipped detector with ``head`` (a dense KAN mapping 576 -> 150 or 390) as its per-location predictor,
    through the location adapter its file's ``metadata`` names (the folder's shared one by default)."""
    from ..detection.detector import load_detector

    head_label_set(head)  # a wrong shape is one clear error
    folder = settings().detector_dir
    return load_detector(head.eval(), folder, folder / adapter_file(metadata))


def teacher_available(labels: LabelSet = VOC) -> bool:
    """True when the teacher for ``labels`` is in the detector folder (the VOC one ships; another label set's
    is written by scripts/convert_ssd.py --teacher-labels)."""
    return (settings().detector_dir / teacher_file(labels)).is_file()


def teacher_missing_message(labels: LabelSet) -> str:
    """Why no teacher column can be shown for a head predicting ``labels``."""
    return (f"The SSD teacher for {labels.title or labels.name} ({teacher_file(labels)}) is not shipped with the "
            "studio, so no reference column can be shown here: the VOC teacher knows other classes, and every box "
            "would read as a disagreement.")


def teacher_detector(labels: LabelSet | str = VOC):
    """The shipped detector with the original SSD box predictor for ``labels`` (a label set or its name), the
    teacher a KAN head distils."""
    from ..detection.detector import load_teacher

    return load_teacher(settings().detector_dir, LABEL_SETS[labels] if isinstance(labels, str) else labels)


def compressed_detector(result: CompressionResult, decompressed: bool = False) -> tuple[object, str]:
    """The detector with the compressed head, and how that head runs.

    By default the head runs in the compressed domain, straight from codebook, indices, gains and
    biases, through the fused numba kernel where it supports the file; ``decompressed`` runs it through rebuilt dense weights instead, for comparison.
    """
    from ..detection.detector import load_detector
    from ..runtime.compressed_kan import CompressedDomainKAN

    folder = settings().detector_dir
    adapter = folder / adapter_file(result.compressed.metadata)  # compression keeps the source's metadata
    if decompressed:
        return load_detector(result.reconstructed.eval(), folder, adapter), "its decompressed (rebuilt dense) weights"
    head = CompressedDomainKAN(result.compressed).eval()  # the fused numba kernel whenever it supports the file
    how = "the compressed-domain forward" + (" (fused numba kernel)" if head.fused is not None else " (torch)")
    return load_detector(head, folder, adapter), how


def backbone_maps(detector, image: Image.Image) -> tuple[list[torch.Tensor], float]:
    """The frozen backbone's maps of ``image`` (the same for every head) and the milliseconds they took."""
    start = time.perf_counter()
    maps = detector.feature_maps(image)
    return maps, (time.perf_counter() - start) * 1e3


def timed_detect(detector, image: Image.Image, score: float, maps: list[torch.Tensor] | None = None) -> DetectionRun:
    """Run ``detector`` on ``image`` and time it: backbone, head and NMS, or only head and NMS given ``maps``."""
    with torch.no_grad():
        start = time.perf_counter()
        if maps is None:
            detections = detector.detect(image, score)
        else:
            detections = detector.detect_from_maps(maps, image.size, score)
    return DetectionRun(detections, (time.perf_counter() - start) * 1e3)


@dataclass(frozen=True)
class HeadOutputs:
    """One head's raw outputs on one image before any threshold, boxes (1917, 4) and scores (1917, slots), and
    the median milliseconds its head and NMS took when they were computed."""

    boxes: torch.Tensor
    scores: torch.Tensor
    milliseconds: float


def timed_outputs(detectors: list, size: tuple[int, int], maps: list[torch.Tensor], repeats: int = 3) -> list[HeadOutputs]:
    """Each detector's raw outputs on the same backbone ``maps`` (of an image of ``size``), its head and NMS timed
    as the median of ``repeats`` interleaved runs; a threshold is applied later by ``detections_at``, without
    running the head again."""

    def head_and_nms(detector):
        boxes, scores = detector.outputs_from_maps(maps)
        detector.detections_from_outputs(boxes, scores, size, DEFAULT_SCORE)
        return boxes, scores

    with torch.no_grad():
        timed = interleaved({index: (lambda detector=detector: head_and_nms(detector))
                             for index, detector in enumerate(detectors)}, repeats, warmup=False)
    return [HeadOutputs(*timed[index].last, timed[index].median_ms) for index in range(len(detectors))]


def head_times(detectors: list, size: tuple[int, int], maps: list[torch.Tensor], repeats: int) -> list[float]:
    """Each detector's head and NMS time (median ms of ``repeats`` interleaved runs) on the same backbone ``maps``."""
    return [outputs.milliseconds for outputs in timed_outputs(detectors, size, maps, repeats)]


@dataclass(frozen=True)
class HeadTimes:
    """The head times a page shows, by column title; how they were taken; whether other sessions ran meanwhile."""

    milliseconds: dict[str, float]
    how: str
    others_ran: bool


def shown_times(first_runs: dict, retimed, repeats: int) -> HeadTimes:
    """The times to show: ``retimed`` (a Measured list of medians over ``repeats`` runs, in ``first_runs``' order)
    when the user asked for it, else each head's one first run (``first_runs``: title -> Measured [HeadOutputs])."""
    if retimed is not None:
        return HeadTimes(dict(zip(first_runs, retimed.value)), f"the median of {repeats} interleaved runs",
                         retimed.others_ran)
    return HeadTimes({title: run.value[0].milliseconds for title, run in first_runs.items()},
                     "one run each, taken when this photo first ran with these heads",
                     any(run.others_ran for run in first_runs.values()))


def detections_at(detector, outputs: HeadOutputs, size: tuple[int, int], score: float,
                  milliseconds: float | None = None) -> DetectionRun:
    """``outputs``' detections at threshold ``score`` (NMS only, no head run), with the head's measured time (or
    ``milliseconds``, a later timing of the same head)."""
    return DetectionRun(detector.detections_from_outputs(outputs.boxes, outputs.scores, size, score),
                        outputs.milliseconds if milliseconds is None else milliseconds)


def photos_for(labels: LabelSet = VOC) -> dict[str, Path]:
    """The photos the Detect page offers a head predicting ``labels``, by name: the photos held out for that
    label set's own head first (none for VOC), then the bundled photos."""
    own = heldout_photo_dir(labels)
    paths = (bundled_photos(settings().detector_dir / own) if own else []) + bundled_photos()
    photos: dict[str, Path] = {}
    for path in paths:
        photos.setdefault(path.name, path)
    return photos


def read_image(path: Path) -> Image.Image:
    """A bundled photo as upright 8-bit RGB."""
    return load_image(path)


def read_image_upload(filename: str, payload: bytes) -> Image.Image:
    """An uploaded image as upright 8-bit RGB, through the detector's own robust reader."""
    if len(payload) > MAX_IMAGE_BYTES:
        raise SharekanError(f"{filename}: file is too large ({len(payload) / 2**20:.0f} MiB, limit "
                            f"{MAX_IMAGE_BYTES / 2**20:.0f} MiB)")
    with tempfile.TemporaryDirectory(prefix="sharekan-image-") as folder:
        path = Path(folder) / (Path(filename).name or "upload")
        path.write_bytes(payload)
        return load_image(path)


def class_colour(label: str) -> str:
    """The one colour a class is drawn in, on every image (VOC classes in their order, others by name)."""
    index = VOC_CLASSES.index(label) if label in VOC_CLASSES else sum(map(ord, label))
    return PALETTE[index % len(PALETTE)]


def _label_position(box: tuple[float, ...], size: tuple[int, int], canvas: tuple[int, int],
                    taken: list[tuple[float, float, float, float]]) -> tuple[float, float]:
    """Where a label of ``size`` goes: above the box, else inside its top, else below it, moved down
    past labels already placed so that labels on crowded (group) photos do not cover each other."""
    width, height = size
    x1, y1, _, y2 = box
    left = min(max(0.0, x1), max(0.0, canvas[0] - width))
    candidates = [y1 - height, y1, y2]
    for top in candidates:
        top = min(max(0.0, top), max(0.0, canvas[1] - height))
        for _ in range(len(taken) + 1):
            clash = next((t for t in taken if left < t[2] and t[0] < left + width and top < t[3] and t[1] < top + height), None)
            if clash is None:
                return left, top
            top = clash[3]
            if top + height > canvas[1]:
                break
    return left, min(max(0.0, y1), max(0.0, canvas[1] - height))


def draw_detections(image: Image.Image, detections: list, highlight: set[int] | frozenset = frozenset()) -> Image.Image:
    """A copy of ``image`` with each box, label and score drawn in its class's colour.

    Detections whose indices are in ``highlight`` (the ones the other head disagrees with) get a
    thick double outline and a "≠" before their label. Labels are drawn after every box and placed
    so that they do not overlap each other.
    """
    canvas = image.copy()
    draw = ImageDraw.Draw(canvas)
    width = max(2, round(min(canvas.size) / 200))
    font = ImageFont.load_default(size=max(11, min(22, round(min(canvas.size) / 32))))
    for index, det in enumerate(detections):
        x1, y1, x2, y2 = det.box
        if index in highlight:
            draw.rectangle((x1, y1, x2, y2), outline="white", width=3 * width)
        draw.rectangle((x1, y1, x2, y2), outline=class_colour(det.label), width=width)
    taken: list[tuple[float, float, float, float]] = []
    for index, det in sorted(enumerate(detections), key=lambda pair: -pair[1].score):
        colour = class_colour(det.label)
        text = f"{'≠ ' if index in highlight else ''}{det.label} {det.score:.2f}"
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        size = (right - left + 2 * width, bottom - top + 2 * width)
        x, y = _label_position(det.box, size, canvas.size, taken)
        taken.append((x, y, x + size[0], y + size[1]))
        draw.rectangle((x, y, x + size[0], y + size[1]), fill=colour, outline="white" if index in highlight else None)
        draw.text((x + width - left, y + width - top), text, fill=_text_colour(colour), font=font)
    return canvas


UNDEFINED_AGREEMENT = ("Neither head finds anything at this threshold, so there is nothing to agree on: the "
                       "agreement is undefined, not perfect. Lower the threshold to compare the heads.")


def agreement_undefined(agree: dict) -> bool:
    """True when ``match_f1`` compared two empty lists: its F1 of 1 then means nothing."""
    return agree["reference"] == 0 and agree["candidate"] == 0


def agreement_text(agree: dict) -> str:
    """``match_f1``'s F1 as the Detect page shows it: 'undefined' when neither list holds a detection."""
    return "undefined" if agreement_undefined(agree) else f"{agree['f1']:.2f}"


def teacher_time_caption(teacher: DetectionRun, how_timed: str) -> str:
    """The teacher column's time, measured as the heads' are (``how_timed`` says how): its box predictor and NMS on
    the shared backbone."""
    return (f"SSD teacher: its box predictor and NMS took {teacher.milliseconds:.0f} ms ({how_timed}), on the same "
            "backbone maps as the KAN heads.")


def column_caption(title: str, count: int) -> str:
    """The caption under one head's annotated image: its name and how many detections it shows."""
    return f"{title}: {count} detection{'' if count == 1 else 's'}"


def png_bytes(image: Image.Image) -> bytes:
    """``image`` encoded as PNG, for a download button."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def detections_document(image_name: str, score: float, runs: dict[str, DetectionRun]) -> str:
    """JSON of every shown head's detections: {"image", "score_threshold", "heads": {name: [...]}}."""
    heads = {name: {"milliseconds": round(run.milliseconds, 2), "detections": [d.to_dict() for d in run.detections]}
             for name, run in runs.items()}
    return json.dumps({"image": image_name, "score_threshold": score, "boxes": "x1, y1, x2, y2 in image pixels",
                       "heads": heads}, indent=1)


def _text_colour(background: str) -> str:
    """Black on light label backgrounds, white on dark ones (by perceived luminance)."""
    red, green, blue = (int(background[i:i + 2], 16) for i in (1, 3, 5))
    return "black" if 0.299 * red + 0.587 * green + 0.114 * blue > 150 else "white"


def detections_table(run: DetectionRun) -> dict[str, list]:
    """A table by column: label, score and rounded pixel box; the columns stay when there is no detection, so an
    empty result still reads as a table with its headings."""
    return {"label": [d.label for d in run.detections], "score": [round(d.score, 3) for d in run.detections],
            "box (x1, y1, x2, y2)": [[round(v) for v in d.box] for d in run.detections]}
