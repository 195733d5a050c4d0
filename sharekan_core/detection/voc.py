"""PASCAL VOC's on-disk format (VOCdevkit/VOC20xx/{Annotations/*.xml, JPEGImages/, ImageSets/Main})."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from ..errors import SharekanError
from .labels import VOC_CLASSES


@dataclass(frozen=True)
class VOCSample:
    """One annotated image: boxes (x1, y1, x2, y2) in pixels, labels, VOC 'difficult' flags."""

    image_path: Path
    boxes: tuple[tuple[float, float, float, float], ...]
    labels: tuple[str, ...]
    difficult: tuple[bool, ...]


def find_voc_year(root: str | Path) -> Path:
    """Accept a VOCdevkit folder, a VOC20xx folder, or any folder holding Annotations/ and JPEGImages/."""
    root = Path(root)
    if (root / "Annotations").is_dir() and (root / "JPEGImages").is_dir():
        return root
    years = sorted(p for p in root.glob("VOC*") if (p / "Annotations").is_dir())
    if not years:
        raise SharekanError(f"{root}: not a PASCAL VOC folder (no Annotations/ and JPEGImages/ found)")
    return years[-1]


def parse_annotation(xml_path: Path, image_dir: Path) -> VOCSample:
    """Read one VOC XML file. VOC's 1-based inclusive pixel corners become 0-based (x1-1, y1-1, x2, y2)."""
    try:
        tree = ET.parse(xml_path).getroot()
    except ET.ParseError as exc:
        raise SharekanError(f"{xml_path.name}: malformed VOC annotation ({exc})") from None
    filename = tree.findtext("filename") or xml_path.stem + ".jpg"
    boxes, labels, difficult = [], [], []
    for obj in tree.iter("object"):
        name = (obj.findtext("name") or "").strip()
        if name not in VOC_CLASSES:
            raise SharekanError(f"{xml_path.name}: unknown VOC class {name!r}")
        box = obj.find("bndbox")
        try:
            x1, y1, x2, y2 = (float(box.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax"))
        except (AttributeError, TypeError, ValueError):
            raise SharekanError(f"{xml_path.name}: object {name!r} has no valid bndbox") from None
        boxes.append((x1 - 1, y1 - 1, x2, y2))
        labels.append(name)
        difficult.append((obj.findtext("difficult") or "0").strip() == "1")
    return VOCSample(image_dir / filename, tuple(boxes), tuple(labels), tuple(difficult))


def load_voc(root: str | Path, split: str | None = "test", limit: int | None = None) -> list[VOCSample]:
    """Read a VOC split (ImageSets/Main/<split>.txt), or every annotation when the list is absent."""
    year = find_voc_year(root)
    list_file = year / "ImageSets" / "Main" / f"{split}.txt"
    if split is not None and list_file.is_file():
        ids = [line.split()[0] for line in list_file.read_text().splitlines() if line.strip()]
        xml_paths = [year / "Annotations" / f"{i}.xml" for i in ids]
    else:
        xml_paths = sorted((year / "Annotations").glob("*.xml"))
    if not xml_paths:
        raise SharekanError(f"{year}: no annotations found")
    return [parse_annotation(p, year / "JPEGImages") for p in xml_paths[:limit]]
