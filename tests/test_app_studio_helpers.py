"""The studio's view-model helpers (sharekan_core.studio): uploads, images, agreement, tables."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from safetensors.torch import save as save_tensors
import torch

from sharekan_core.compression import CompressionConfig
from sharekan_core.errors import SharekanError
from sharekan_core.io import read_model, save_model
from sharekan_core.studio import compression, detection, runtime, scaling, splines, tradeoffs
from sharekan_core.studio.saved_results import saved_result
from sharekan_core.studio.models import layer_table, model_summary, read_upload
from sharekan_core.studio.settings import settings

DIGITS = settings().models_dir / "digits_kan.safetensors"


@pytest.fixture(scope="module")
def digits_run():
    model = read_model(DIGITS).model
    return model, compression.run_compression(model, "digits", "Digits", CompressionConfig(codebook_size=16, bits=8))


def test_upload_of_a_project_file_loads(tmp_path, small_kan):
    save_model(small_kan, tmp_path / "m.safetensors")
    loaded = read_upload("m.safetensors", (tmp_path / "m.safetensors").read_bytes())
    assert model_summary(loaded.model)["widths"] == [8, 6, 3]


@pytest.mark.parametrize("name, payload", [
    ("notes.txt", b"hello, not a model"),
    ("other.safetensors", save_tensors({"conv.weight": torch.zeros(2, 2)})),
    ("broken.pt", b"PK\x03\x04 truncated zip"),
])
def test_uploads_that_are_not_kans_give_one_plain_error(name, payload):
    with pytest.raises(SharekanError):
        read_upload(name, payload)


def test_model_table_has_a_row_per_layer():
    table = layer_table(read_model(DIGITS).model)
    assert table["edges"].tolist() == [2048, 320]


def test_codebook_choices_are_powers_of_two_up_to_the_edges():
    assert compression.codebook_size_choices(100) == [2, 4, 8, 16, 32, 64, 128]
    assert compression.default_codebook_size(2368) == 256


def test_storage_frame_adds_up_to_the_report(digits_run):
    _, run = digits_run
    assert compression.storage_frame(run)["bytes"].sum() == run.result.storage.compressed_bytes
    assert compression.codebook_notes(run) == []


def test_edge_story_reconstructs_the_stored_spline(digits_run):
    model, run = digits_run
    story = splines.edge_story(model, run.result, 1, 2, 3)
    expected = run.result.compressed.layer_coefficients(1)[2, 3]
    assert np.allclose(story.reconstructed, expected, atol=1e-6)
    assert np.allclose(story.bias + story.gain * story.shape, story.coefficients, atol=1e-6)
    assert story.stored_bits == 4 + 8 + 8 + 8  # index, gain, bias and base weight


def test_codebook_usage_counts_every_edge(digits_run):
    _, run = digits_run
    assert splines.codebook_usage(run.result, 0).sum() == 2048


def test_scaling_pays_the_codebook_once(digits_run):
    _, run = digits_run
    frame = scaling.scaling_frame(run.result, max_heads=3)
    costs = scaling.head_costs(run.result)
    shared = frame[frame["form"] == scaling.FORMS["shared_codebook_bytes"]]["MB"].to_numpy() * 1e6
    assert np.allclose(shared, [costs["shared_once"] + n * costs["per_head"] for n in (1, 2, 3)])


def test_saved_scaling_costs_rebuild_its_curve():
    document = {"dense_bytes_per_head": 1000, "shared_codebook_bytes": 300, "per_head_bytes": [50, 50],
                "curve": [{"heads": n, "dense_bytes": 1000 * n, "shared_codebook_bytes": 300 + 50 * n,
                           "separate_compressed_bytes": 350 * n} for n in (1, 2)],
                "file_checks": [{"heads": 1, "file_bytes": 400, "accounted_bytes": 350, "header_bytes": 50}]}
    costs = scaling.saved_head_costs(document)
    assert costs == {"dense_per_head": 1000, "shared_once": 300, "per_head": 50}
    frame = scaling.curve_frame(document["curve"])
    shared = frame[frame["form"] == scaling.FORMS["shared_codebook_bytes"]]["MB"].to_numpy() * 1e6
    assert np.allclose(shared, [350, 400])
    checks = scaling.file_checks_frame(document)
    assert checks.iloc[0]["header share"] == 0.125


def test_scaling_says_what_sharing_saves_from_the_curve():
    """(N - 1) copies of the codebooks saved at the largest N; the curves nearly coincide when they are small."""
    small_codebook = scaling.curve_frame([{"heads": n, "dense_bytes": 10_000 * n, "shared_codebook_bytes": 50 + 950 * n,
                                           "separate_compressed_bytes": 1000 * n} for n in (1, 2, 50)])
    saving = scaling.sharing_saving(small_codebook)
    assert saving["heads"] == 50 and np.isclose(saving["saved_MB"] * 1e6, 49 * 50)
    assert np.isclose(saving["codebook_share"], 0.05) and np.isclose(saving["saved_share"], 49 * 50 / 50_000)
    words = scaling.sharing_words(small_codebook)
    assert "saves **2.45 kB** at N = 50" in words and "5.0% of one compressed head" in words
    assert "nearly coincide" in words
    big_codebook = scaling.curve_frame([{"heads": n, "dense_bytes": 10_000 * n, "shared_codebook_bytes": 500 + 500 * n,
                                         "separate_compressed_bytes": 1000 * n} for n in (1, 50)])
    assert "nearly coincide" not in scaling.sharing_words(big_codebook)


def test_bundle_agreement_means_something_for_the_heads_task():
    """A classifier: the same predicted class; a detection head: the top class of each of its 6 anchors (an
    arg-max over its 150 outputs mixes classes, anchors and box numbers); no known task: nothing."""
    dense = torch.zeros(2, 150)
    dense.view(2, 6, 25)[:, :, 3] = 1.0  # every anchor's top class is 3
    ran = dense.clone()
    ran.view(2, 6, 25)[0, 0, 5] = 2.0  # one anchor of 12 changes its class
    ran.view(2, 6, 25)[:, :, 24] = 9.0  # a box number larger than every logit: the whole-row arg-max moves
    name, share = scaling.output_agreement({"task": "detection"}, dense, ran)
    assert name == scaling.SAME_ANCHOR_CLASS and share == pytest.approx(11 / 12)
    assert scaling.output_agreement({"task": "digits"}, dense, ran) == (scaling.SAME_CLASS, 0.0)
    assert scaling.output_agreement({}, dense, ran) is None
    assert "6 anchors" in scaling.AGREEMENT_NOTES[scaling.SAME_ANCHOR_CLASS]


def test_transfer_frame_names_both_codebooks():
    row = {"metric": "accuracy", "metric_label": "held-out accuracy", "config": {"codebook_size": 64, "bits": 8},
           "target_dense": 0.96, "target_own_codebook": 0.95, "target_transferred_codebook": 0.94,
           "retained_fraction_of_dense": 0.94 / 0.96, "coef_rel_l2_own": 0.1, "coef_rel_l2_transferred": 0.2}
    frame = tradeoffs.transfer_frame({"source": "a", "target": "b", "rows": [row]})
    assert frame.iloc[0]["K"] == 64 and frame.iloc[0]["bits"] == "Int8"
    assert frame.iloc[0]["B, A's codebook (zero-shot)"] == 0.94
    assert tradeoffs.metric_label({"rows": [row]}) == "held-out accuracy"


def test_tradeoffs_axis_holds_sharekan_and_puts_far_points_off_scale():
    import pandas as pd

    frame = pd.DataFrame({"method": ["dense", "sharekan", "sharekan", "pruning", "pruning"],
                          "label": ["dense", "K=16 Int8", "K=64 Int8", "pruned 10%", "pruned 50%"],
                          "metric_mean": [0.96, 0.94, 0.95, 0.90, 0.07]})
    frame["metric_low"], frame["metric_high"] = frame["metric_mean"] - 0.01, frame["metric_mean"] + 0.01
    low, high = tradeoffs.metric_domain(frame)
    assert 0.85 < low < 0.89 and 0.97 <= high < 0.98  # pruned 10% keeps 94% of dense: on the axis
    shown = tradeoffs.on_scale(frame, [low, high])
    assert shown["off_scale"].tolist() == [False, False, False, False, True]
    assert shown["shown_mean"].iloc[-1] == low and shown["shown_mean"].iloc[0] == 0.96
    assert "pruned 50% (0.070)" in tradeoffs.off_scale_words(shown)
    assert tradeoffs.off_scale_words(shown.iloc[:4]) == ""


def test_tradeoffs_name_and_colour_each_method_once_and_explain_it():
    assert tradeoffs.method_display_name("prune") == "pruning"
    first, second = tradeoffs.method_colours(["pruning", "sharekan"]), tradeoffs.method_colours(["sharekan", "gptq"])
    colour = lambda scale, name: dict(zip(scale["domain"], scale["range"]))[name]  # noqa: E731
    assert colour(first, "sharekan") == colour(second, "sharekan")
    notes = tradeoffs.method_notes(["gptq", "uniform", "kmeans", "sharekan (data-aware)", "pruning"])
    assert all(f"**{name}**" in notes for name in ("gptq", "uniform", "kmeans", "sharekan (data-aware)", "pruning"))
    assert tradeoffs.paper_applies("detection", {"labels": "voc"}) and tradeoffs.paper_applies("detection", {})
    assert not tradeoffs.paper_applies("detection", {"labels": "coco-extra"})
    assert not tradeoffs.paper_applies("digits", {}) and not tradeoffs.paper_applies(None, None)


def test_transfer_retention_above_dense_is_no_measurable_loss(tmp_path):
    import json

    from sharekan_core.tasks.detection import DetectorFiles

    assert tradeoffs.retention_words(0.983) == "98.3% retained"
    assert tradeoffs.retention_words(1.306) == tradeoffs.retention_words(1.0) == "no measurable loss"
    (tmp_path / "reference.json").write_text(json.dumps({"images": [{"detections": [{}] * 3}, {"detections": []}]}))
    support = tradeoffs.reference_support(DetectorFiles(tmp_path, tmp_path / "reference.json", tmp_path))
    assert support == {"boxes": 3, "photos": 2}
    document = {"rows": [{"retained_fraction_of_dense": 1.306}]}
    words = tradeoffs.transfer_caveat(document, support)
    assert "3 teacher boxes on 2 held-out photos" in words and "no measurable loss" in words and "not a gain" in words
    assert tradeoffs.reference_support(DetectorFiles(tmp_path, tmp_path / "absent.json", tmp_path)) is None


def test_saved_results_that_are_absent_or_malformed_are_none(tmp_path):
    (tmp_path / "sweeps").mkdir()
    (tmp_path / "sweeps" / "broken.json").write_text("{not json")
    (tmp_path / "sweeps" / "partial.json").write_text('{"points": []}')
    (tmp_path / "sweeps" / "good.json").write_text('{"points": [], "metric_label": "accuracy"}')
    assert saved_result("sweeps", "missing", tmp_path) is None
    assert saved_result("sweeps", "broken", tmp_path) is None
    assert saved_result("sweeps", "partial", tmp_path) is None
    assert saved_result("sweeps", None, tmp_path) is None
    assert saved_result("sweeps", "good", tmp_path) == {"points": [], "metric_label": "accuracy"}


def test_bit_widths_read_as_in_the_paper():
    assert [compression.width_name(b) for b in (32, 16, 8, 4)] == ["FP32", "FP16", "Int8", "Int4"]


def _encoded(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


@pytest.mark.parametrize("name, payload", [
    ("cmyk.jpg", _encoded(Image.new("CMYK", (40, 30), (0, 128, 128, 0)), "JPEG")),
    ("deep.png", _encoded(Image.fromarray(np.full((30, 40), 40000, dtype=np.uint16)), "PNG")),
    ("alpha.png", _encoded(Image.new("RGBA", (40, 30), (255, 0, 0, 10)), "PNG")),
    ("photo.webp", _encoded(Image.new("RGB", (40, 30), (0, 255, 0)), "WEBP")),
])
def test_odd_images_become_rgb(name, payload):
    image = detection.read_image_upload(name, payload)
    assert image.mode == "RGB" and image.size == (40, 30)


def test_exif_rotated_images_are_turned_upright():
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    payload = _encoded(Image.new("RGB", (40, 30)), "JPEG", exif=exif.tobytes())
    assert detection.read_image_upload("rotated.jpg", payload).size == (30, 40)


@pytest.mark.parametrize("payload", [b"", b"\xff\xd8\xff\xe0 not really a jpeg", _encoded(Image.new("RGB", (40, 30)), "PNG")[:60]])
def test_corrupt_images_give_one_plain_error(payload):
    with pytest.raises(SharekanError):
        detection.read_image_upload("bad.png", payload)


def test_agreement_of_known_detections():
    class Det:
        def __init__(self, label, score, box):
            self.label, self.score, self.box = label, score, box

    dense = [Det("cat", 0.9, (0, 0, 10, 10)), Det("dog", 0.8, (20, 20, 30, 30))]
    compressed = [Det("cat", 0.85, (1, 0, 10, 10)), Det("cat", 0.7, (20, 20, 30, 30))]
    result = detection.match_f1(dense, compressed)
    assert result["matched"] == 1 and result["precision"] == 0.5 and result["recall"] == 0.5
    assert detection.match_f1([], [])["f1"] == 1.0


def test_drawing_marks_the_box_edges():
    class Det:
        label, score, box = "person", 0.9, (10.0, 40.0, 60.0, 90.0)

    canvas = detection.draw_detections(Image.new("RGB", (100, 100), "white"), [Det()])
    assert canvas.getpixel((10, 70)) != (255, 255, 255) and canvas.getpixel((35, 70)) == (255, 255, 255)


def test_timed_outputs_interleave_and_a_threshold_is_applied_later_without_running_the_head(monkeypatch):
    import sharekan_core.timing as timing

    calls, clock = [], [0.0]
    monkeypatch.setattr(timing.time, "perf_counter", lambda: clock[0])

    class Head:
        def __init__(self, name, seconds):
            self.name, self.seconds = name, list(seconds)

        def outputs_from_maps(self, maps):
            calls.append(self.name)
            clock[0] += self.seconds.pop(0)  # each call takes a scripted time on the fake clock
            return self.name, [0.9, 0.3]

        def detections_from_outputs(self, boxes, scores, size, score):
            return [(boxes, value) for value in scores if value >= score]

    heads = [Head("dense", [0.010, 0.030, 0.020]), Head("compressed", [0.005, 0.001, 0.003])]
    outputs = detection.timed_outputs(heads, (4, 4), maps=[], repeats=3)
    assert calls == ["dense", "compressed"] * 3
    assert [output.milliseconds for output in outputs] == pytest.approx([20.0, 3.0])  # medians, in milliseconds
    low, high = (detection.detections_at(heads[0], outputs[0], (4, 4), score) for score in (0.2, 0.5))
    assert low.detections == [("dense", 0.9), ("dense", 0.3)] and high.detections == [("dense", 0.9)]
    assert calls == ["dense", "compressed"] * 3 and low.milliseconds == pytest.approx(20.0)  # no head ran again


@pytest.mark.parametrize("content", ["", "{", "[]", '{"score_ratio_median": null}', '{"score_ratio_median": "x"}'])
def test_threshold_help_is_plain_without_a_readable_check_report(tmp_path, content):
    if content:
        (tmp_path / "check_report.json").write_text(content)
    assert detection.threshold_help(tmp_path) == "Detections scoring at least this are shown, for every head alike."


def test_threshold_help_quotes_the_measured_calibration(tmp_path):
    (tmp_path / "check_report.json").write_text('{"score_ratio_median": 0.412, "heldout_frames": '
                                               '{"score_ratio_median": 0.987}}')
    text = detection.threshold_help(tmp_path)
    assert "median 0.41 of what the SSD teacher scores" in text and "0.99 on held-out frames" in text
    assert f"default sits at {detection.DEFAULT_SCORE}" in text if detection.DEFAULT_SCORE < 0.5 else \
        f"default is the usual {detection.DEFAULT_SCORE}" in text


def test_threshold_help_says_which_default_it_explains(tmp_path, monkeypatch):
    (tmp_path / "check_report.json").write_text('{"score_ratio_median": 0.9}')
    monkeypatch.setattr(detection, "DEFAULT_SCORE", 0.3)
    assert "default sits at 0.3 rather than the usual 0.5" in detection.threshold_help(tmp_path)
    monkeypatch.setattr(detection, "DEFAULT_SCORE", 0.5)
    assert detection.threshold_help(tmp_path).endswith("so the default is the usual 0.5 (measured in check_report.json).")


def test_a_column_caption_counts_its_detections_in_words():
    from sharekan_core.studio.detection import column_caption

    assert column_caption("Dense KAN head", 1) == "Dense KAN head: 1 detection"
    assert column_caption("SSD teacher", 0) == "SSD teacher: 0 detections"
    assert column_caption("SSD teacher", 4) == "SSD teacher: 4 detections"


def test_a_detections_table_keeps_its_columns_when_nothing_is_found():
    from sharekan_core.detection.detector import Detection
    from sharekan_core.studio.detection import DetectionRun, detections_table

    empty = detections_table(DetectionRun([], 1.0))
    assert list(empty) == ["label", "score", "box (x1, y1, x2, y2)"] and all(v == [] for v in empty.values())
    table = detections_table(DetectionRun([Detection("cat", 0.87654, (1.4, 2.6, 30.2, 40.5))], 1.0))
    assert table == {"label": ["cat"], "score": [0.877], "box (x1, y1, x2, y2)": [[1, 3, 30, 40]]}


def test_a_compressed_program_bigger_or_slower_than_dense_is_said():
    import pandas as pd

    def export(sizes, times):
        forms = [runtime.DENSE_PTE, runtime.COMPRESSED_PTE]
        return runtime.PteExport(pd.DataFrame({"form": forms, "MB": sizes}),
                                 pd.DataFrame({"batch": 1, "form": forms, "ms": times}), b"")

    quiet = export([0.5, 0.2], [5.0, 4.0])
    assert runtime.program_size_warnings(quiet) == [] and runtime.program_speed_warnings(quiet) == []
    worse = export([0.002, 0.005], [5.4, 33.4])
    (bigger,), (slower,) = runtime.program_size_warnings(worse), runtime.program_speed_warnings(worse)
    assert "0.0050 MB against 0.0020 MB" in bigger and "33.40 ms against 5.40 ms" in slower


def test_agreement_of_two_empty_lists_is_undefined():
    assert detection.agreement_text(detection.match_f1([], [])) == "undefined"
    assert detection.agreement_text({"reference": 1, "candidate": 0, "f1": 0.0}) == "0.00"


def test_a_change_is_written_to_the_precision_of_its_value():
    from sharekan_core.studio.evaluation import Measure
    from sharekan_core.tasks import TaskMetric

    mse = Measure(TaskMetric("mse", "mse", lambda module: 0.0), higher_is_better=False)
    assert mse.format(0.0123) == "0.0123" and mse.format_change(-2.364e-07, 0.0123) == "-0.0000"
    assert mse.format_change(0.5, 12.5) == "+0.5"
    share = Measure(TaskMetric("accuracy", "accuracy", lambda module: 0.0), percent=True)
    assert share.format_change(-0.0123, 0.9) == "-1.2 points"


def test_transfer_retention_shows_its_interval_and_the_fidelity_measure():
    intervals = {"bootstrap": {"resamples": 1000, "seed": 0, "level": 0.95, "over": "39 images"},
                 "transferred_codebook": {"retained_ci95": [0.62, 1.41], "retained": 1.306}}
    row = {"metric": "map50", "metric_label": "agreement", "config": {"codebook_size": 4096, "bits": 8},
           "target_dense": 0.245, "target_own_codebook": 0.29, "target_transferred_codebook": 0.32,
           "retained_fraction_of_dense": 1.306, "coef_rel_l2_own": 0.1, "coef_rel_l2_transferred": 0.2,
           "intervals": intervals,
           "fidelity": {"dense_boxes": 412, "transferred_codebook": {"map50": 0.91, "ci95": [0.88, 0.94]}}}
    frame = tradeoffs.transfer_frame({"rows": [row]})
    assert frame.iloc[0]["zero-shot against dense"] == "no measurable loss (95% CI 62.0%–141.0%)"
    assert frame.iloc[0]["zero-shot, agreement with B's dense head"] == "0.910 (95% CI 0.880–0.940)"
    assert tradeoffs.retention_words(0.9, [0.85, 0.95]) == "90.0% retained (95% CI 85.0%–95.0%)"
    words = tradeoffs.transfer_caveat({"rows": [row]}, {"boxes": 10, "photos": 39})
    assert "95% bootstrap over the 39 images (1,000 seeded resamples)" in words
    assert "412 of B's own dense boxes" in words and "not the teacher" in words


def test_detect_shows_one_runs_times_until_the_heads_are_timed_again():
    import torch

    from sharekan_core.studio.jobs import Measured

    first = {"Dense KAN head": Measured([detection.HeadOutputs(torch.zeros(1, 4), torch.zeros(1, 2), 40.0)], False),
             "SSD teacher": Measured([detection.HeadOutputs(torch.zeros(1, 4), torch.zeros(1, 2), 9.0)], True)}
    once = detection.shown_times(first, None, 5)
    assert once.milliseconds == {"Dense KAN head": 40.0, "SSD teacher": 9.0} and once.others_ran
    assert once.how.startswith("one run each")
    again = detection.shown_times(first, Measured([30.0, 8.0], False), 5)
    assert again.milliseconds == {"Dense KAN head": 30.0, "SSD teacher": 8.0} and not again.others_ran
    assert again.how == "the median of 5 interleaved runs"


def test_the_method_chart_reads_each_rows_interval_from_the_saved_summary():
    document = {"points": [
        {"method": "dense", "codebook_size": None, "bits": 32, "seed": None, "sparsity": None, "stored_bytes": 1000,
         "metric": 0.9, "coef_rel_l2": 0.0},
        {"method": "uniform", "codebook_size": None, "bits": 4, "seed": None, "sparsity": None, "stored_bytes": 125,
         "metric": 0.88, "coef_rel_l2": 0.1}],
        "summary": [{"method": "uniform", "variant": "", "codebook_size": None, "bits": 4, "sparsity": None,
                     "intervals": {"change_vs_dense": -0.02, "change_ci95": [-0.051, 0.004],
                                   "verdict": "no measurable loss"}}]}
    frame = tradeoffs.methods_frame(document).set_index("method")
    assert frame.loc["uniform", "vs dense (95% CI)"] == "-2.00 pts [-5.10, +0.40], no measurable loss"
    assert frame.loc["dense", "vs dense (95% CI)"] == ""
    del document["summary"]  # a sweep saved before intervals: the column stays empty rather than invented
    assert set(tradeoffs.methods_frame(document)["vs dense (95% CI)"]) == {""}
