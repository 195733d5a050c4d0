"""SSD-MobileNetV2 detection task: backbone port, anchors, boxes, KAN head wiring, evaluation.

The compressor never imports this package; it only sees the KAN head, a normal model file.
"""
from .coco_map import mean_average_precision
from .detector import Detection, Detector, detect_image, load_detector, load_head, load_teacher
from .evaluate import compressed_vs_dense, evaluate_detection, teacher_agreement, voc_map
from .voc import VOCSample, load_voc

__all__ = [
    "Detection", "Detector", "VOCSample", "compressed_vs_dense", "detect_image", "evaluate_detection",
    "load_detector", "load_head", "load_teacher", "load_voc", "mean_average_precision", "teacher_agreement",
    "voc_map",
]
