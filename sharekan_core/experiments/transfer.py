"""Zero-shot codebook transfer: compress model B with the codebook learned on model A."""
from __future__ import annotations

from ..compression import CompressionConfig, decompress
from ..compression.compressor import compress_sharekan, compress_with_codebooks
from ..metrics import fidelity_report
from ..model import KAN
from ..results import compress_and_measure
from ..tasks import TaskMetric


def codebook_transfer(source: KAN, target: KAN, config: CompressionConfig, metric: TaskMetric) -> dict:
    """Metric and coefficient error of ``target``: dense, with its own codebook, and with ``source``'s."""
    source_codebooks = compress_sharekan(source, config).codebooks
    own = compress_and_measure(target, config)
    transferred = compress_with_codebooks(target, config, source_codebooks)
    transferred_dense = decompress(transferred).eval()
    dense_metric = metric.evaluate(target.eval())
    transferred_metric = metric.evaluate(transferred_dense)
    return {
        "metric": metric.name,
        "metric_label": metric.label,
        "config": {"codebook_size": config.codebook_size, "bits": config.bits, "scope": config.scope, "seed": config.seed},
        "target_dense": dense_metric,
        "target_own_codebook": metric.evaluate(own.reconstructed.eval()),
        "target_transferred_codebook": transferred_metric,
        "retained_fraction_of_dense": transferred_metric / dense_metric if dense_metric else None,
        "coef_rel_l2_own": own.fidelity.coef_rel_l2,
        "coef_rel_l2_transferred": fidelity_report(target, transferred_dense).coef_rel_l2,
    }
