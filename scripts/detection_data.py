"""The real photos and video frames the detection scripts use, and the train / held-out split.

Sources (none are PASCAL VOC or COCO images): Debian's ``opencv-doc`` sample photos and videos
(apt-get install opencv-doc), scikit-image's and scikit-learn's bundled photos, and
matplotlib's grace_hopper.jpg. Held-out images are never seen in training; near-duplicates of a
held-out photo (another frame of the same shot) are excluded from training too. Video frames are
split in time, with a gap between the training and held-out segments.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")
PHOTO_DIR = ROOT / "assets" / "photos"
HELDOUT_FRAME_DIR = ROOT / "sample_models" / "ssd_mobilenet_v2" / "heldout_frames"

# Held-out photos, bundled in assets/photos (re-encoded as JPEG, at most 640 px).
HELDOUT_PHOTOS: tuple[str, ...] = ("messi5.jpg", "grace_hopper.jpg", "chelsea.jpg", "basketball2.jpg",
                                   "licenseplate_motion.jpg", "cameraman.jpg")
# Originals of the held-out photos and their near-duplicates: never used for training.
EXCLUDED_FROM_TRAINING: frozenset[str] = frozenset({
    "messi5.jpg", "grace_hopper.jpg", "chelsea.png", "basketball1.png", "basketball2.png",
    "licenseplate_motion.jpg", "camera.png"})
# Non-photos that teach nothing about detection (single pixels, multi-page test files).
UNUSABLE: frozenset[str] = frozenset({"multipage.tif", "no_time_for_that_tiny.gif", "microaneurysms.png"})

# (video, training frames, held-out frames)
VIDEOS: tuple[tuple[str, range, range], ...] = (
    ("vtest.avi", range(0, 640, 4), range(680, 795, 6)),
    ("Megamind.avi", range(0, 215, 3), range(230, 270, 5)),
    ("tree.avi", range(0, 444, 22), range(0)),
)


def package_dir(name: str) -> Path:
    """Directory of an installed package, found without importing it."""
    return Path(importlib.util.find_spec(name).submodule_search_locations[0])


def training_photo_paths() -> list[Path]:
    """All usable photos not held out, sorted for determinism."""
    candidates = [p for p in OPENCV_DATA.iterdir() if p.suffix.lower() in (".jpg", ".png")]
    candidates += [p for p in (package_dir("skimage") / "data").iterdir() if p.suffix.lower() in (".jpg", ".png")]
    candidates += sorted((package_dir("sklearn") / "datasets" / "images").glob("*.jpg"))
    keep = [p for p in candidates if p.name not in EXCLUDED_FROM_TRAINING and p.name not in UNUSABLE]
    return sorted(set(keep))


def read_frames(video: str, frames: range) -> list[tuple[str, Image.Image]]:
    """Decode the given frame numbers of an opencv-doc video as RGB images."""
    capture = cv2.VideoCapture(str(OPENCV_DATA / video))
    wanted, found, index = set(frames), [], 0
    while wanted and index <= max(frames, default=-1):
        ok, bgr = capture.read()
        if not ok:
            break
        if index in wanted:
            found.append((f"{video}#{index}", Image.fromarray(bgr[:, :, ::-1].copy())))
        index += 1
    capture.release()
    return found


def training_frames() -> list[tuple[str, Image.Image]]:
    """The training segments of every video."""
    return [frame for video, train, _ in VIDEOS for frame in read_frames(video, train)]


def heldout_frames() -> list[tuple[str, Image.Image]]:
    """The held-out segments of every video."""
    return [frame for video, _, heldout in VIDEOS for frame in read_frames(video, heldout)]
