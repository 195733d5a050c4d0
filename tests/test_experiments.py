"""Sweeps, Pareto frontier, codebook transfer and multi-head scaling."""
import json

import pytest
import torch

from conftest import prototype_kan
from sharekan_core.compression import CompressionConfig, compress, compress_with_codebooks
from sharekan_core.errors import SharekanError
from sharekan_core.cli.main import main
from sharekan_core.experiments import (codebook_transfer, default_codebook_sizes, multihead_storage_curve,
                                       pareto_frontier, run_sweep, shared_codebook_scaling, summarize_sweep)
from sharekan_core.format import dense_bytes
from sharekan_core.format.multihead_file import save_multihead, shared_and_per_head_bytes
from sharekan_core.studio.settings import settings
from sharekan_core.tasks import TaskMetric


def agreement_metric(reference):
    x = torch.rand(64, reference.layers[0].in_features) * 2 - 1
    with torch.no_grad():
        target = reference(x)

    def evaluate(module):
        with torch.no_grad():
            return -float(((module(x) - target) ** 2).mean())
    return TaskMetric("neg_mse", "agreement with the dense model (negative MSE)", evaluate)


def test_default_codebook_sizes():
    assert default_codebook_sizes(100) == [16, 32, 64, 100]
    assert default_codebook_sizes(1_000_000)[-1] == 65_536
    assert default_codebook_sizes(10) == []


def test_sweep_points_and_summary():
    model = prototype_kan((10, 8, 3), prototypes=30, seed=0)
    points = run_sweep(model, agreement_metric(model), [4, 32], bits=[32, 4], seeds=[0, 1], sparsities=[0.5])
    assert len(points) == 1 + 2 * 2 * 2 + 1
    dense = points[0]
    assert dense.method == "dense" and dense.metric == 0.0
    by = {(p.method, p.codebook_size, p.bits, p.seed): p for p in points}
    assert by[("sharekan", 32, 32, 0)].metric > by[("sharekan", 4, 32, 0)].metric
    assert by[("sharekan", 4, 4, 0)].stored_bytes < by[("sharekan", 4, 32, 0)].stored_bytes
    pruned = [p for p in points if p.method == "pruning"][0]
    assert pruned.metric < 0 and pruned.stored_bytes < dense.stored_bytes
    rows = summarize_sweep(points)
    assert {r["seeds"] for r in rows if r["method"] == "sharekan"} == {2}


def test_points_keep_a_metrics_per_class_parts_and_the_summary_averages_them():
    import dataclasses

    from sharekan_core.experiments.sweep import SweepPoint

    model = prototype_kan((6, 4), prototypes=8, seed=1)
    plain = agreement_metric(model)

    def by_class(module):  # two "classes": the first and the second half of the outputs
        value = plain.evaluate(module)
        return value, {"a": value / 2, "b": value * 2}

    metric = dataclasses.replace(plain, evaluate_by_class=by_class)
    points = run_sweep(model, metric, [4], bits=[8], seeds=[0, 1], sparsities=[])
    assert all(p.class_metric == {"a": p.metric / 2, "b": p.metric * 2} for p in points)
    row = next(r for r in summarize_sweep(points) if r["method"] == "sharekan")
    assert row["class_metric_mean"]["b"] == pytest.approx(2 * row["metric_mean"])
    # documents written before per-class parts existed still load, and their rows carry none
    old = [SweepPoint(**{k: v for k, v in dataclasses.asdict(p).items() if k != "class_metric"}) for p in points]
    assert all("class_metric_mean" not in r for r in summarize_sweep(old))
    assert run_sweep(model, plain, [4], bits=[8], seeds=[0], sparsities=[])[0].class_metric is None


def test_a_resumed_sweep_reruns_only_the_missing_jobs():
    from sharekan_core.compression.methods import UniformConfig
    from sharekan_core.experiments.sweep import SweepJob, config_job, measure_job, split_measured

    model = prototype_kan((6, 4), prototypes=8, seed=1)
    metric = agreement_metric(model)
    jobs = [SweepJob("dense"), config_job(CompressionConfig(codebook_size=4, bits=8, seed=0)),
            config_job(CompressionConfig(codebook_size=4, bits=8, seed=1)),
            config_job(CompressionConfig(codebook_size=4, bits=8, seed=0), calibrated=True, variant="data-aware"),
            config_job(UniformConfig(bits=4)), SweepJob("pruning", 0.5)]
    measured = [measure_job(model, metric, jobs[i]) for i in (0, 2, 4, 5)]
    done, todo = split_measured(jobs, measured)
    assert sorted(done) == [0, 2, 4, 5] and todo == [1, 3]  # seed 0 and the data-aware variant are not seed 1's
    assert done[2] is measured[1]
    assert split_measured(jobs, [])[1] == list(range(len(jobs)))


def test_pareto_frontier_known_answer():
    rows = [{"stored_bytes": 10, "metric_mean": 0.5}, {"stored_bytes": 20, "metric_mean": 0.4},
            {"stored_bytes": 30, "metric_mean": 0.9}, {"stored_bytes": 5, "metric_mean": 0.1},
            {"stored_bytes": 30, "metric_mean": 0.95}]
    assert [(r["stored_bytes"], r["metric_mean"]) for r in pareto_frontier(rows)] == [(5, 0.1), (10, 0.5), (30, 0.95)]


def test_transfer_to_itself_matches_own_codebook():
    model = prototype_kan((9, 6, 3), prototypes=8, seed=4)
    result = codebook_transfer(model, model, CompressionConfig(codebook_size=8, bits=32), agreement_metric(model))
    assert result["target_transferred_codebook"] == pytest.approx(result["target_own_codebook"], abs=1e-9)
    other = prototype_kan((9, 6, 3), prototypes=8, seed=5)  # different shapes: the transferred codebook is worse
    worse = codebook_transfer(model, other, CompressionConfig(codebook_size=8, bits=32), agreement_metric(other))
    assert worse["coef_rel_l2_transferred"] > worse["coef_rel_l2_own"]


def test_multihead_bundle_matches_accounting(tmp_path):
    config = CompressionConfig(codebook_size=16, bits=8, scope="global")
    heads_dense = [prototype_kan((12, 8, 4), prototypes=10, seed=s) for s in range(3)]
    first = compress(heads_dense[0], config)
    heads = [first] + [compress_with_codebooks(m, config, first.codebooks) for m in heads_dense[1:]]
    shared, per_head = shared_and_per_head_bytes(heads)
    sizes = [save_multihead(heads[:n], tmp_path / f"b{n}.st") for n in (1, 2, 3)]
    for n, size in zip((1, 2, 3), sizes):
        header = int.from_bytes((tmp_path / f"b{n}.st").read_bytes()[:8], "little") + 8
        assert size == shared + sum(per_head[:n]) + header
    curve = multihead_storage_curve(1000, shared, per_head[0], 50)
    assert curve[49]["shared_codebook_bytes"] == shared + 50 * per_head[0]
    with pytest.raises(SharekanError, match="same codebooks"):
        shared_and_per_head_bytes([first, compress(heads_dense[1], config)])


def test_shared_codebook_scaling_checks_real_bundles():
    heads = [prototype_kan((12, 8, 4), prototypes=10, seed=s) for s in range(2)]
    result = shared_codebook_scaling(heads, CompressionConfig(codebook_size=16, bits=8), max_heads=5)
    assert result["dense_bytes_per_head"] == dense_bytes(heads[0])
    assert [row["heads"] for row in result["curve"]] == [1, 2, 3, 4, 5]
    assert [check["heads"] for check in result["file_checks"]] == [1, 2]
    for check in result["file_checks"]:
        assert check["accounted_bytes"] == result["shared_codebook_bytes"] + sum(result["per_head_bytes"][:check["heads"]])
        assert 0 < check["header_bytes"] < 16_384
    with pytest.raises(SharekanError, match="one architecture"):
        shared_codebook_scaling([heads[0], prototype_kan((12, 4), prototypes=3)], CompressionConfig(codebook_size=4))


def test_sweep_cli_on_digits(tmp_path, capsys):
    out = tmp_path / "sweep.json"
    digits = settings().models_dir / "digits_kan.safetensors"
    status = main(["sweep", str(digits), "--ks", "16", "--bits", "8", "--seeds", "0", "--sparsities", "0.5",
                   "--serial", "--out", str(out)])
    assert status == 0, capsys.readouterr().err
    document = json.loads(out.read_text())
    assert document["metric"] == "accuracy"
    dense = [p for p in document["points"] if p["method"] == "dense"][0]
    assert dense["metric"] == pytest.approx(0.9644, abs=1e-3)
    assert {p["method"] for p in document["points"]} == {"dense", "sharekan", "pruning"}


def test_sweep_progress_reads_as_words():
    """The live sweep's progress text names each point in words, never a config's raw dict."""
    model = prototype_kan((6, 5, 3), prototypes=4)
    messages = []
    run_sweep(model, agreement_metric(model), [4], bits=[8], seeds=[0], sparsities=[0.5],
              progress=lambda fraction, message: messages.append(message))
    assert "sharekan: K = 4, 8-bit, seed 0" in messages and "magnitude pruning at 50% sparsity" in messages
    assert not any("{" in message or "'" in message for message in messages), messages


def ranking_metric(reference, images=40):
    """A detection-like metric with per-image matches: on each input row ('image'), class c has a reference box
    where ``reference`` scores it above 0, and a module predicts that box with score sigmoid(output)."""
    from sharekan_core.tasks.bootstrap import map50, match_detections

    x = torch.rand(images, reference.layers[0].in_features, generator=torch.Generator().manual_seed(3)) * 2 - 1
    with torch.no_grad():
        truth = reference(x) > 0
    classes = truth.shape[1]
    boxes = torch.tensor([[10.0 * c, 0.0, 10.0 * c + 8, 8.0] for c in range(classes)])

    def matches(module, target=truth):
        with torch.no_grad():
            scores = torch.sigmoid(module(x))
        predictions = [{"boxes": boxes, "labels": torch.arange(classes), "scores": s} for s in scores]
        targets = [{"boxes": boxes[t], "labels": torch.arange(classes)[t]} for t in target]
        return match_detections(predictions, targets)

    def fidelity(compressed, dense):
        with torch.no_grad():
            return {name: matches(module, dense(x) > 0) for name, module in compressed.items()}

    return TaskMetric("map50", "synthetic ranking agreement", lambda module: map50(matches(module)),
                      matches=matches, fidelity_matches=fidelity, class_names=tuple(f"c{c}" for c in range(classes)))


def test_transfer_with_matches_reports_paired_intervals_and_fidelity():
    source, target = (prototype_kan((9, 6, 4), prototypes=8, seed=s) for s in (4, 5))
    metric = ranking_metric(target)
    row = codebook_transfer(source, target, CompressionConfig(codebook_size=4, bits=8), metric, fidelity=True)
    intervals = row["intervals"]
    assert intervals["bootstrap"]["resamples"] == 1000 and intervals["bootstrap"]["seed"] == 0
    assert intervals["dense"]["map50"] == pytest.approx(row["target_dense"], abs=1e-4)
    moved = intervals["transferred_codebook"]
    assert moved["retained"] == pytest.approx(row["retained_fraction_of_dense"], abs=1e-4)
    low, high = moved["retained_ci95"]
    assert low <= moved["retained"] <= high
    assert moved["verdict"] == ("no measurable loss" if moved["change_ci95"][0] <= 0 <= moved["change_ci95"][1]
                                else "loss" if moved["change_ci95"][1] < 0 else "above dense")
    assert sum(row["teacher_boxes"].values()) == int(metric.matches(target).boxes.sum()) and row["images"] == 40
    versus = row["fidelity"]["transferred_codebook"]
    assert versus["ci95"][0] <= versus["map50"] <= versus["ci95"][1] and "fidelity" in row["fidelity"]["reference"]
    assert set(row["fidelity"]) >= {"own_codebook", "transferred_codebook", "dense_boxes", "bootstrap"}


def test_a_sweep_with_per_image_matches_gets_intervals_against_dense_and_never_saves_the_matches():
    import dataclasses

    from sharekan_core.experiments.sweep import sweep_document
    from sharekan_core.tasks.bootstrap import match_detections

    model = prototype_kan((6, 4), prototypes=8, seed=1)
    plain = agreement_metric(model)
    x = torch.rand(12, 6) * 2 - 1
    with torch.no_grad():
        reference = model(x)

    def boxes(values):  # one box per image, shifted by how far the module's outputs are from the dense ones
        return [{"boxes": torch.tensor([[0.0, 0.0, 10.0 + 40 * float(v), 10.0]]), "labels": torch.tensor([0]),
                 "scores": torch.tensor([0.9])} for v in values]

    def matched(module):
        with torch.no_grad():
            error = (module(x) - reference).abs().mean(dim=1)
        return plain.evaluate(module), None, match_detections(boxes(error), boxes(torch.zeros(12)))

    metric = dataclasses.replace(plain, evaluate_matched=matched)
    points = run_sweep(model, metric, [2, 8], bits=[8], seeds=[0, 1], sparsities=[0.9])
    document = json.loads(json.dumps(sweep_document("m", metric, points)))  # the matches never reach the JSON
    assert all("matches" not in p for p in document["points"])
    rows = {(r["method"], r["codebook_size"]): r["intervals"] for r in document["summary"]}
    assert rows[("dense", None)]["map50"] == 1.0 and "change_ci95" not in rows[("dense", None)]
    for key, figures in rows.items():
        if key[0] != "dense":
            low, high = figures["change_ci95"]
            assert low <= figures["change_vs_dense"] <= high <= 0.0
            assert figures["bootstrap"]["resamples"] == 1000
    assert rows[("pruning", None)]["change_vs_dense"] < rows[("sharekan", 8)]["change_vs_dense"] <= 0.0
    # without matches (a task with no per-image parts, or points read back from a JSON) there are no intervals
    assert all("intervals" not in r for r in summarize_sweep(run_sweep(model, plain, [2], [8], [0], [])))
