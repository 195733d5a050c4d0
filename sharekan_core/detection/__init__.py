"""SSD-MobileNetV2 detection task: backbone port, anchors, boxes, KAN head wiring, VOC reader.

Its metrics live in ``sharekan_core.tasks.detection``. The compressor never imports this package;
it only sees the KAN head, a normal model file.
"""
from .detector import Detection, Detector, detect_image, load_detector, load_head, load_teacher
from .voc import VOCSample, load_voc

__all__ = ["Detection", "Detector", "VOCSample", "detect_image", "load_detector", "load_head", "load_teacher",
           "load_voc"]
