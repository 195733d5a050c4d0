"""The whole detector as one ExecuTorch program, with a compressed KAN head run in the compressed domain."""
import torch

from sharekan_core.compression import CompressionConfig, compress
from sharekan_core.detection.detector import load_detector
from sharekan_core.detection.export import PteDetector, compare_detections, export_detector, sample_image
from sharekan_core.detection.kan_head import HEAD_INPUTS, HEAD_OUTPUTS
from sharekan_core.model import KAN, KANConfig
from sharekan_core.runtime import CompressedDomainKAN
from sharekan_core.studio.settings import settings


def test_detector_program_matches_eager(tmp_path):
    torch.manual_seed(0)
    head = KAN(KANConfig((HEAD_INPUTS, 8, HEAD_OUTPUTS)))  # small stand-in: same interface, fast to export
    compressed = compress(head, CompressionConfig(codebook_size=64, bits=8))
    folders = settings()
    detector = load_detector(CompressedDomainKAN(compressed).eval(), folders.detector_dir)
    # portable kernels: lowering the whole detector to XNNPACK doubles this test's time; the XNNPACK
    # delegate is covered on the KAN head by tests/test_runtime_export.py
    size = export_detector(detector, tmp_path / "detector.pte", xnnpack=False)
    assert size > 1_000_000
    image = sample_image(None, folders.photos_dir)
    assert image.size == (320, 320)
    program = PteDetector(tmp_path / "detector.pte", detector)
    eager_boxes, eager_scores = detector.raw_outputs(image)
    boxes, scores = program.raw_outputs(image)
    torch.testing.assert_close(boxes, eager_boxes, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(scores, eager_scores, atol=1e-4, rtol=1e-4)
    comparison = compare_detections(detector.detect(image, 0.05), program.detect(image, 0.05))
    assert comparison["same_labels"] and comparison["max_box_difference_px"] < 0.1
