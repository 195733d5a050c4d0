"""Label sets: PASCAL VOC's 20 classes, the 60 other COCO classes, and where each sits among SSD's 91 slots."""
from __future__ import annotations

from dataclasses import dataclass

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

# The TF graph's 91 class slots: COCO category ids (1..90, with the 10 ids COCO never used absent).
COCO_NAMES: dict[int, str] = {
    1: "person", 2: "bicycle", 3: "car", 4: "motorcycle", 5: "airplane", 6: "bus", 7: "train", 8: "truck",
    9: "boat", 10: "traffic light", 11: "fire hydrant", 13: "stop sign", 14: "parking meter", 15: "bench",
    16: "bird", 17: "cat", 18: "dog", 19: "horse", 20: "sheep", 21: "cow", 22: "elephant", 23: "bear",
    24: "zebra", 25: "giraffe", 27: "backpack", 28: "umbrella", 31: "handbag", 32: "tie", 33: "suitcase",
    34: "frisbee", 35: "skis", 36: "snowboard", 37: "sports ball", 38: "kite", 39: "baseball bat",
    40: "baseball glove", 41: "skateboard", 42: "surfboard", 43: "tennis racket", 44: "bottle",
    46: "wine glass", 47: "cup", 48: "fork", 49: "knife", 50: "spoon", 51: "bowl", 52: "banana", 53: "apple",
    54: "sandwich", 55: "orange", 56: "broccoli", 57: "carrot", 58: "hot dog", 59: "pizza", 60: "donut",
    61: "cake", 62: "chair", 63: "couch", 64: "potted plant", 65: "bed", 67: "dining table", 70: "toilet",
    72: "tv", 73: "laptop", 74: "mouse", 75: "remote", 76: "keyboard", 77: "cell phone", 78: "microwave",
    79: "oven", 80: "toaster", 81: "sink", 82: "refrigerator", 84: "book", 85: "clock", 86: "vase",
    87: "scissors", 88: "teddy bear", 89: "hair drier", 90: "toothbrush",
}


@dataclass(frozen=True)
class LabelSet:
    """The classes a head predicts and where each sits among the SSD's 91 slots (background first)."""

    name: str
    classes: tuple[str, ...]
    coco_slots: tuple[int, ...]
    title: str = ""  # how the studio names the set, e.g. "the 20 PASCAL VOC classes"

    @property
    def num_slots(self) -> int:
        """Class logits per anchor: background plus the classes."""
        return len(self.coco_slots)


VOC = LabelSet("voc", VOC_CLASSES, VOC_COCO_SLOTS, "the 20 PASCAL VOC classes")
# The 60 COCO classes outside VOC that the teacher knows: the second head's task (cross-task transfer).
COCO_EXTRA = LabelSet("coco-extra", tuple(name for slot, name in COCO_NAMES.items() if slot not in VOC_COCO_SLOTS),
                      (0,) + tuple(slot for slot in COCO_NAMES if slot not in VOC_COCO_SLOTS),
                      "the 60 COCO classes outside VOC")
LABEL_SETS: dict[str, LabelSet] = {labels.name: labels for labels in (VOC, COCO_EXTRA)}
