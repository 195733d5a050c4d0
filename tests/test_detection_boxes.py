"""Box decoding, IoU, NMS and the OpenCV-style post-processing."""
from __future__ import annotations

import pytest
import torch

from sharekan_core.detection.anchors import generate_anchors
from sharekan_core.detection.boxes import (PostprocessConfig, batched_nms, box_iou, decode_boxes, encode_boxes, nms,
                                           postprocess)
from sharekan_core.detection.kan_head import merge_anchor_outputs, split_location_outputs


def test_zero_encoding_decodes_to_the_anchor():
    anchors = torch.tensor([[0.5, 0.4, 0.2, 0.1]])  # cy, cx, h, w
    box = decode_boxes(torch.zeros(1, 4), anchors)
    assert torch.allclose(box, torch.tensor([[0.35, 0.4, 0.45, 0.6]]))


def test_decode_uses_scale_factors_and_inverts_encode():
    anchors = torch.tensor([[0.5, 0.5, 0.2, 0.2]])
    # ty = 10 moves the centre down by one anchor height; th = 5 * ln 2 doubles the height.
    box = decode_boxes(torch.tensor([[10.0, 0.0, 5 * torch.log(torch.tensor(2.0)), 0.0]]), anchors)
    assert torch.allclose(box, torch.tensor([[0.4, 0.5, 0.6, 0.9]]), atol=1e-6)
    all_anchors = generate_anchors()
    codes = torch.randn(len(all_anchors), 4)
    assert torch.allclose(encode_boxes(decode_boxes(codes, all_anchors), all_anchors), codes, atol=1e-3)


def test_iou_known_values():
    a = torch.tensor([[0.0, 0.0, 2.0, 2.0]])
    b = torch.tensor([[1.0, 1.0, 3.0, 3.0], [0.0, 0.0, 2.0, 2.0], [5.0, 5.0, 6.0, 6.0]])
    assert torch.allclose(box_iou(a, b), torch.tensor([[1 / 7, 1.0, 0.0]]))


def test_nms_keeps_best_and_drops_overlaps_above_threshold():
    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 9.0]])
    scores = torch.tensor([0.9, 0.95, 0.5, 0.3])
    assert nms(boxes, scores, 0.6).tolist() == [1, 2]
    # Same boxes, different classes: nothing is suppressed across classes.
    kept = batched_nms(boxes, scores, torch.tensor([1, 2, 1, 3]), 0.6)
    assert sorted(kept.tolist()) == [0, 1, 2, 3]


def test_postprocess_threshold_background_and_top_k():
    boxes = torch.tensor([[0, 0, 0.5, 0.5], [0.5, 0.5, 1, 1], [0, 0, 0.5, 0.5]])
    scores = torch.tensor([[0.99, 0.8, 0.005], [0.9, 0.02, 0.7], [0.0, 0.6, 0.0]])
    out_boxes, out_scores, out_classes = postprocess(boxes, scores)
    # Background column never appears; 0.005 is under the 0.01 threshold; box 2 is NMS'd by box 0.
    assert out_classes.tolist() == [1, 2, 1]
    assert torch.allclose(out_scores, torch.tensor([0.8, 0.7, 0.02]))
    _, top_scores, _ = postprocess(boxes, scores, PostprocessConfig(keep_top_k=1))
    assert top_scores.tolist() == [0.800000011920929]


@pytest.mark.parametrize("slots", [21, 61])  # VOC, and the 60 COCO classes outside VOC
def test_location_layout_round_trip(slots):
    per_anchor = torch.randn(2, 1917, slots + 4)
    per_location = merge_anchor_outputs(per_anchor)
    assert per_location.shape == (2, 500, 6, slots + 4)
    assert per_location[:, :361, 3:].abs().sum() == 0  # the 19x19 map has 3 anchors, not 6
    logits, encodings = split_location_outputs(per_location.reshape(2, 500, 6 * (slots + 4)))
    assert logits.shape == (2, 1917, slots) and encodings.shape == (2, 1917, 4)
    assert torch.equal(torch.cat([logits, encodings], -1), per_anchor)


def test_head_widths_name_their_label_sets():
    from sharekan_core.detection.kan_head import check_head_shape
    from sharekan_core.detection.labels import COCO_EXTRA, VOC
    from sharekan_core.errors import SharekanError

    assert check_head_shape(576, 150) is VOC and check_head_shape(576, 390) is COCO_EXTRA
    assert len(COCO_EXTRA.classes) == 60 and not set(COCO_EXTRA.classes) & {"person", "car", "cat"}
    with pytest.raises(SharekanError, match="576 -> 150"):
        check_head_shape(576, 200)
