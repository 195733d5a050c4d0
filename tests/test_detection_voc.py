"""The PASCAL VOC on-disk loader and VOC evaluation, on a tiny VOCdevkit made here."""
from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from sharekan_core.detection.detector import Detection
from sharekan_core.tasks.detection import voc_map
from sharekan_core.detection.voc import load_voc
from sharekan_core.errors import SharekanError

ANNOTATION = """<annotation>
  <folder>VOC2007</folder><filename>{name}.jpg</filename>
  <size><width>64</width><height>48</height><depth>3</depth></size>
  {objects}
</annotation>"""
OBJECT = """<object><name>{label}</name><pose>Unspecified</pose><truncated>0</truncated>
  <difficult>{difficult}</difficult>
  <bndbox><xmin>{x1}</xmin><ymin>{y1}</ymin><xmax>{x2}</xmax><ymax>{y2}</ymax></bndbox></object>"""


def make_voc(root: Path, images: dict[str, list[tuple]], split: list[str] | None = None) -> Path:
    year = root / "VOCdevkit" / "VOC2007"
    for sub in ("Annotations", "JPEGImages", "ImageSets/Main"):
        (year / sub).mkdir(parents=True)
    for name, objects in images.items():
        Image.new("RGB", (64, 48), (120, 90, 60)).save(year / "JPEGImages" / f"{name}.jpg")
        xml = "".join(OBJECT.format(label=l, difficult=d, x1=b[0], y1=b[1], x2=b[2], y2=b[3]) for l, b, d in objects)
        (year / "Annotations" / f"{name}.xml").write_text(ANNOTATION.format(name=name, objects=xml))
    if split is not None:
        (year / "ImageSets" / "Main" / "test.txt").write_text("\n".join(split) + "\n")
    return root / "VOCdevkit"


def test_loader_reads_boxes_labels_and_difficult(tmp_path):
    root = make_voc(tmp_path, {"000001": [("dog", (11, 21, 40, 45), 0), ("person", (1, 1, 10, 10), 1)],
                               "000002": [("car", (5, 5, 60, 40), 0)]}, split=["000002"])
    samples = load_voc(root, split="test")
    assert [s.image_path.name for s in samples] == ["000002.jpg"]
    everything = load_voc(root / "VOC2007", split=None)
    first = everything[0]
    assert first.labels == ("dog", "person")
    assert first.boxes == ((10.0, 20.0, 40.0, 45.0), (0.0, 0.0, 10.0, 10.0))  # 1-based corners -> 0-based
    assert first.difficult == (False, True)
    assert first.image_path.is_file()


def test_loader_errors_are_one_line(tmp_path):
    with pytest.raises(SharekanError, match="not a PASCAL VOC folder"):
        load_voc(tmp_path)
    root = make_voc(tmp_path, {"000001": [("unicorn", (1, 1, 5, 5), 0)]})
    with pytest.raises(SharekanError, match="unknown VOC class 'unicorn'"):
        load_voc(root, split=None)


class OracleDetector:
    """Returns each image's ground truth (minus difficult ones) as detections."""

    def __init__(self, samples):
        self.by_name = {s.image_path.name: s for s in samples}

    def detect(self, image, score):
        sample = self.by_name[Path(image.filename).name] if getattr(image, "filename", "") else None
        return [Detection(l, 0.9, b) for l, b, d in zip(sample.labels, sample.boxes, sample.difficult) if not d]


def test_voc_map_with_perfect_detector_is_one(tmp_path, monkeypatch):
    root = make_voc(tmp_path, {"000001": [("dog", (11, 21, 40, 45), 0), ("person", (1, 1, 10, 10), 1)],
                               "000002": [("car", (5, 5, 60, 40), 0)]})
    samples = load_voc(root, split=None)
    # load_image drops the filename when converting; keep it so the oracle can look the image up.
    monkeypatch.setattr("sharekan_core.tasks.detection.load_image", lambda p: _named(p))
    result = voc_map(OracleDetector(samples), root, split="test")
    assert result["map50"] == pytest.approx(1.0) and result["map"] == pytest.approx(1.0)
    assert result["images"] == 2 and "PASCAL VOC" in result["reference"]


def _named(path):
    image = Image.open(path)
    image.load()
    return image
