"""The studio's result views: predicted size, task quality, the run history, the Splines lesson, Trade-offs axes."""
from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st

from sharekan_core.compression import CompressionConfig
from sharekan_core.errors import SharekanError
from sharekan_core.io import read_model
from sharekan_core.studio import compression, evaluation, history, splines, tradeoffs
from sharekan_core.studio.settings import settings

DIGITS = settings().models_dir / "digits_kan.safetensors"


@pytest.fixture(scope="module")
def digits():
    return read_model(DIGITS)


@pytest.fixture(scope="module")
def two_runs(digits):
    model = digits.model
    runs = []
    for size in (16, 64):
        run = compression.run_compression(model, "sha256:digits", "Digits", CompressionConfig(codebook_size=size))
        runs.append(compression.measure_run(run, model, "digits", None))
    return runs


@hypothesis_settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(size=st.sampled_from([2, 16, 100, 512, 4096]), bits=st.sampled_from([32, 16, 8, 4]),
       gain_bits=st.sampled_from([None, 4, 16]), scope=st.sampled_from(["layer", "global"]),
       mixed=st.booleans())
def test_predicted_size_is_the_file_payload(small_kan, size, bits, gain_bits, scope, mixed):  # small_kan is read-only
    layer_bits = tuple([bits, 4] + [8] * (len(small_kan.layers) - 2)) if mixed else None
    config = CompressionConfig(codebook_size=size, bits=bits, gain_bits=gain_bits, scope=scope, layer_bits=layer_bits)
    result = compression.run_compression(small_kan, "k", "small", config).result
    kept = [int(codebook.shape[0]) for codebook in result.compressed.codebooks]
    assert compression.predicted_bytes(small_kan, config, kept) == result.storage.compressed_bytes
    assert compression.predicted_bytes(small_kan, config) >= result.storage.compressed_bytes


def test_task_quality_is_measured_beside_the_dense_model(two_runs):
    scores = two_runs[0].scores
    assert scores.label == "held-out accuracy on scikit-learn digits"
    assert 0.9 < scores.dense <= 1.0 and 0.0 < scores.compressed <= 1.0
    assert scores.dense_text.endswith("%") and scores.compressed_text_delta.endswith("points")


def test_fidelity_words_carry_the_runs_numbers(two_runs):
    words = compression.fidelity_words(two_runs[0])
    assert f"{two_runs[0].result.fidelity.coef_rel_l2:.4f}" in words and "task quality" in words


def test_history_rows_compare_and_export(two_runs):
    frame = history.history_frame(two_runs)
    assert frame["run"].tolist() == [1, 2] and frame["K"].tolist() == [16, 64]
    assert set(frame["method"]) == {"SHARe-KAN"}
    assert frame["compressed bytes"].iloc[0] < frame["compressed bytes"].iloc[1]
    assert set(frame["task metric"]) == {"held-out accuracy on scikit-learn digits"}
    again = pd.read_csv(io.BytesIO(history.history_csv(two_runs)))
    assert again["compressed bytes"].tolist() == frame["compressed bytes"].tolist()
    pair = history.comparison_frame(two_runs, 1, 2).set_index("quantity")
    assert pair.loc["K"].tolist() == ["16", "64"]


def test_a_new_method_gets_its_own_name_in_the_history():
    class GPTQConfig:
        bits = 4

    class NamedConfig:
        method = "kmeans"

    assert history.method_name(GPTQConfig()) == "GPTQ"
    assert history.method_name(NamedConfig()) == "kmeans"
    assert history.bits_text(GPTQConfig()) == "Int4"


def test_evaluation_sets_score_accuracy_and_mse(digits):
    model = digits.model
    from sharekan_core.tasks import load_digits_split

    split = load_digits_split()
    labels = evaluation.read_evaluation_set(_npy(split.x_test), _npy(split.y_test), model)
    accuracy = evaluation.evaluation_set_measure(labels)
    assert labels.kind == "classification" and accuracy.percent
    assert evaluation.score(accuracy, model) == pytest.approx(evaluation.score(evaluation.task_measure("digits"), model))
    with torch.no_grad():
        targets = model(torch.from_numpy(split.x_test)).numpy()
    regression = evaluation.read_evaluation_set(_npy(split.x_test), _npy(targets), model)
    mse = evaluation.evaluation_set_measure(regression)
    assert regression.kind == "regression" and not mse.higher_is_better
    assert evaluation.score(mse, model) == pytest.approx(0.0, abs=1e-10)


@pytest.mark.parametrize("x, y, match", [
    (np.zeros((5, 3), np.float32), np.zeros(5, np.int64), "shape"),
    (np.zeros((5, 64), np.float32), np.zeros(4, np.int64), "rows"),
    (np.zeros((5, 64), np.float32), np.full(5, 10), "labels"),
    (np.full((5, 64), np.nan, np.float32), np.zeros(5, np.int64), "finite"),
    (np.zeros((5, 64), np.float32), np.array([{"a": 1}] * 5, dtype=object), "not a readable"),
])
def test_bad_evaluation_sets_are_refused_plainly(digits, x, y, match):
    with pytest.raises(SharekanError, match=match):
        evaluation.read_evaluation_set(_npy(x), _npy(y), digits.model)


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=array.dtype == object)
    return buffer.getvalue()


def test_fidelity_sweeps_a_model_without_a_task(small_kan):
    inputs = evaluation.sample_inputs(small_kan, 64)
    grid = small_kan.layers[0].grid.numpy()
    order = small_kan.layers[0].spline_order
    assert (inputs >= grid[:, order] - 1e-6).all() and (inputs <= grid[:, -order - 1] + 1e-6).all()
    measures = tradeoffs.sweep_measures(small_kan, None, None)
    measure = next(iter(measures.values()))
    assert measure.metric.evaluate(small_kan) == pytest.approx(1.0)
    document = tradeoffs.live_sweep(small_kan, "small", measure.metric, [4], [8], [0], [0.5])
    summary = tradeoffs.summary_frame(document)
    assert set(summary["method"]) == {"dense", "sharekan", "pruning"} and (summary["metric_mean"] <= 1.0).all()


def test_each_edge_owns_its_base_weight_and_the_layer_adds_up(digits, two_runs):
    run = two_runs[0]
    story = splines.edge_story(digits.model, run.result, 0, 3, 5)
    bits = run.config.component_bits()
    assert story.stored_bits == story.index_bits + bits["gains"] + bits["biases"] + bits["base_weights"]
    layer_bytes = sum(run.result.storage.compressed["0"].values())
    assert story.layer_bits_per_edge * run.result.compressed.layers[0].num_edges == pytest.approx(8 * layer_bytes)
    per_layer = [splines.edge_story(digits.model, run.result, index, 0, 0) for index in range(2)]
    edges = [layer.num_edges for layer in run.result.compressed.layers]
    assert sum(s.layer_bits_per_edge * e for s, e in zip(per_layer, edges)) / sum(edges) == \
        pytest.approx(story.tensor_bits_per_edge)  # the layers' bits add up to the file's payload


def test_edge_bits_are_counted_on_one_basis(digits, two_runs):
    """Dense counts what the compressed side counts (base weight, scaler); the file's bits include its header."""
    run = two_runs[0]
    story = splines.edge_story(digits.model, run.result, 0, 3, 5)
    dense, layer = run.result.storage.dense["0"], digits.model.layers[0]
    edges = layer.in_features * layer.out_features
    owned = dense["splines"] + dense["base_weights"] + dense["scales"] - 2 * layer.out_features * 4  # less output affine
    assert story.dense_bits == 8 * owned / edges
    assert story.file_bits_per_edge == pytest.approx(8 * run.result.file_bytes / run.result.compressed.num_edges)
    assert story.file_bits_per_edge > story.tensor_bits_per_edge
    words = splines.bits_words(story)
    assert f"{run.result.file_bytes:,} bytes" in words and f"{run.result.storage.compressed_bytes:,} bytes" in words
    assert f"{story.model_coef_rel_l2:.4f}" in splines.error_words(story)


def test_decomposition_steps_rebuild_the_spline(digits, two_runs):
    story = splines.edge_story(digits.model, two_runs[0].result, 1, 2, 7)
    steps = splines.decomposition_frame(digits.model, story)
    assert np.allclose(steps["bias"] + story.gain * steps["unit shape"], steps["original"], atol=1e-9)
    assert np.allclose(steps["original"] - steps["gain-scaled codeword"], steps["error"])
    knots = splines.knots(digits.model, 1, 7)
    assert knots[0] == pytest.approx(steps["x"].iloc[0]) and len(knots) == digits.model.layers[1].grid_size + 1


def test_the_typical_edge_has_the_median_error(two_runs):
    result = two_runs[0].result
    output, input_ = splines.typical_edge(result, 0)
    errors = result.fidelity.layers[0].edges.function_rel_rms
    below = int((errors < errors[output, input_]).sum())
    assert abs(below - errors.size // 2) <= 1


def test_before_compression_the_layer_histogram_counts_every_coefficient(digits):
    model = digits.model
    bars = splines.coefficient_histogram(model, 0)
    assert bars["count"].sum() == model.layers[0].scaled_spline_weight().numel()
    frame, bias, gain = splines.original_decomposition(model, 0, *splines.typical_original_edge(model, 0))
    assert np.allclose(frame["bias"] + gain * frame["unit shape"], frame["original"], atol=1e-9)


def test_tradeoffs_axis_fits_the_data_and_bits_sort_numerically():
    low, high = tradeoffs.storage_domain(pd.Series([0.7, 20.0]), pd.Series([], dtype=float))
    assert 0.5 < low < 0.7 and 20.0 < high < 30.0
    assert tradeoffs.bits_order(pd.Series(["32", "4", "8", "16", "8"])) == ["4", "8", "16", "32"]


def test_an_uploaded_evaluation_set_comes_before_the_files_task(digits):
    """The user's own labels are what they asked to be measured by; a new set is never scored from the old one's cache."""
    from sharekan_core.tasks import load_digits_split

    split = load_digits_split()
    model = digits.model
    halves = [evaluation.read_evaluation_set(_npy(split.x_test[part]), _npy(split.y_test[part]), model)
              for part in (slice(0, 200), slice(200, 400))]
    assert halves[0].key != halves[1].key
    run = compression.run_compression(model, "sha256:digits-eval", "Digits", CompressionConfig(codebook_size=16))
    scores = [compression.measure_run(run, model, "digits", half).scores for half in halves]
    assert all(s.label == "accuracy on your evaluation set (200 rows)" for s in scores)
    expected = [evaluation.score(evaluation.evaluation_set_measure(half), model) for half in halves]
    assert [s.dense for s in scores] == pytest.approx(expected)


def test_results_measured_on_another_version_of_a_model_say_so(tmp_path):
    from sharekan_core.studio.saved_results import earlier_version_note, file_sha256

    model = tmp_path / "head.safetensors"
    model.write_bytes(b"version one")
    document = {"model_sha256": file_sha256(model), "model_commit": "e2bd786c600401e4"}
    assert earlier_version_note(document, model) is None
    assert earlier_version_note({}, model) is None  # nothing recorded: nothing to say
    model.write_bytes(b"version two")
    note = earlier_version_note(document, model)
    assert note is not None and "earlier version" in note and "e2bd786c60" in note
    # every shipped model's saved method comparison records the file it measured
    import json
    for name in ("digits_kan", "detection_head"):
        saved = json.loads((settings().assets_dir / "sweeps" / f"{name}_methods.json").read_text())
        assert len(saved["model_sha256"]) == 64
