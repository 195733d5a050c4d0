"""The SHARe-KAN paper's reported figures (arXiv 2512.15742), the one place they are written down.

They are the paper's, measured on PASCAL VOC with a ResNet-50 backbone, never this project's: whatever shows them
labels them as the paper's.
"""
from __future__ import annotations

ARXIV_ID = "2512.15742"

DENSE_HEAD_MB = 58.67  # the dense KAN detection head, FP32
INT8_HEAD_MB = 6.32  # the same head compressed by SHARe-KAN at Int8
INT8_RATIO = 9.3  # DENSE_HEAD_MB / INT8_HEAD_MB as the paper rounds it
DENSE_VOC_MAP = 82.22  # VOC mAP of the dense head
INT8_VOC_MAP = 80.22  # VOC mAP of the Int8 head

COCO_TRANSFER_RETAINED = 0.889  # fraction of dense mAP kept by a VOC codebook applied zero-shot to COCO
QUANTIZATION_RETENTION_POINTS = 1.3  # transfer retention lost going from the FP32 codebook to Int8 (the rest is clustering)

HEADS = 50  # the multi-head figure: this many heads ...
HEADS_DENSE_MB = 2900.0  # ... dense (2.9 GB)
HEADS_SHARED_MB = 211.0  # ... sharing one codebook

PRUNING_SPARSITY = 0.10  # magnitude pruning at this sparsity ...
PRUNING_MAP_DROP = 40.0  # ... costs about this many mAP points
