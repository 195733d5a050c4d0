"""Label sets: PASCAL VOC's 20 classes and where each sits among SSD's 91 COCO slots."""
from __future__ import annotations

# (VOC name, COCO category id). COCO ids are the 91-slot ids the TF graph uses (slot 0 = background).
VOC_TO_COCO: tuple[tuple[str, int], ...] = (
    ("aeroplane", 5), ("bicycle", 2), ("bird", 16), ("boat", 9), ("bottle", 44),
    ("bus", 6), ("car", 3), ("cat", 17), ("chair", 62), ("cow", 21),
    ("diningtable", 67), ("dog", 18), ("horse", 19), ("motorbike", 4), ("person", 1),
    ("pottedplant", 64), ("sheep", 20), ("sofa", 63), ("train", 7), ("tvmonitor", 72),
)

VOC_CLASSES: tuple[str, ...] = tuple(name for name, _ in VOC_TO_COCO)

# Slots of the SSD's 91 class outputs kept by the VOC detector: background first, then VOC order.
VOC_COCO_SLOTS: tuple[int, ...] = (0,) + tuple(coco for _, coco in VOC_TO_COCO)

NUM_VOC_SLOTS = len(VOC_COCO_SLOTS)  # 21: background + 20 classes
