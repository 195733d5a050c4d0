"""Zero-shot codebook transfer: compress model B with the codebook learned on model A."""
from __future__ import annotations

import numpy as np

from ..compression import CompressionConfig, decompress
from ..compression.compressor import compress_sharekan, compress_with_codebooks
from ..fidelity import fidelity_report
from ..model import KAN
from ..results import compress_and_measure
from ..tasks import TaskMetric
from ..tasks.bootstrap import (LEVEL, RESAMPLES, SEED, boxes_per_class, figures_with_intervals, interval, map50,
                               resample_weights)


def codebook_transfer(source: KAN, target: KAN, config: CompressionConfig, metric: TaskMetric,
                      fidelity: bool = False) -> dict:
    """Metric and coefficient error of ``target``: dense, with its own codebook, and with ``source``'s.

    Where the metric has per-image matches (detection), each figure carries a bootstrap interval over images
    (``intervals``) and the reference boxes behind it; ``fidelity`` adds agreement of both compressed heads with
    ``target``'s own dense head (no labels needed).
    """
    source_codebooks = compress_sharekan(source, config).codebooks
    own = compress_and_measure(target, config)
    transferred = compress_with_codebooks(target, config, source_codebooks)
    transferred_dense = decompress(transferred).eval()
    modules = {"dense": target.eval(), "own_codebook": own.reconstructed.eval(), "transferred_codebook": transferred_dense}
    row: dict = {}
    if metric.matches is not None:
        matches = {name: metric.matches(module) for name, module in modules.items()}
        scores = {name: map50(m) for name, m in matches.items()}
        row["intervals"] = figures_with_intervals(matches, "dense")
        row["teacher_boxes"] = boxes_per_class(matches["dense"], metric.class_names)
        row["images"] = matches["dense"].images
    else:
        scores = {name: metric.evaluate(module) for name, module in modules.items()}
    if fidelity and metric.fidelity_matches is not None:
        from ..tasks.detection import FIDELITY_REFERENCE  # the only task with fidelity matches

        versus = metric.fidelity_matches({k: v for k, v in modules.items() if k != "dense"}, target)
        first = next(iter(versus.values()))
        weights = resample_weights(first.images)
        row["fidelity"] = {"reference": FIDELITY_REFERENCE, "dense_boxes": int(first.boxes.sum()),
                           "bootstrap": {"resamples": RESAMPLES, "seed": SEED, "level": LEVEL,
                                         "over": f"{first.images} images"},
                           **{name: {"map50": round(map50(m), 4), "ci95": interval(np.array([map50(m, w) for w in weights]))}
                              for name, m in versus.items()}}
    dense_metric = scores["dense"]
    return {
        "metric": metric.name,
        "metric_label": metric.label,
        "config": {"codebook_size": config.codebook_size, "bits": config.bits, "scope": config.scope, "seed": config.seed},
        "target_dense": dense_metric,
        "target_own_codebook": scores["own_codebook"],
        "target_transferred_codebook": scores["transferred_codebook"],
        "retained_fraction_of_dense": scores["transferred_codebook"] / dense_metric if dense_metric else None,
        "coef_rel_l2_own": own.fidelity.coef_rel_l2,
        "coef_rel_l2_transferred": fidelity_report(target, transferred_dense).coef_rel_l2,
        **row,
    }
