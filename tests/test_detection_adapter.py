"""A head trained with its own location adapter names it in its metadata, and every detector built for that head
reads it: a head file, the task metric's files, and the studio's dense and compressed detectors."""
from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from safetensors.torch import load_file, save_file

from sharekan_core.cli.main import main
from sharekan_core.compression import CompressionConfig
from sharekan_core.detection import load_detector
from sharekan_core.detection.kan_head import HEAD_INPUTS, HEAD_OUTPUTS
from sharekan_core.detection.weights import ADAPTER_FILE, FEATURES_FILE, adapter_file
from sharekan_core.errors import SharekanError
from sharekan_core.io import save_model
from sharekan_core.model import KAN, KANConfig
from sharekan_core.studio.settings import settings

SHIPPED = settings().detector_dir
OWN = "location_adapter_test.safetensors"


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A detector folder with the shipped backbone and adapter, plus a second (all-zero) adapter named OWN."""
    path = tmp_path_factory.mktemp("detector")
    (path / FEATURES_FILE).symlink_to(SHIPPED / FEATURES_FILE)
    (path / ADAPTER_FILE).symlink_to(SHIPPED / ADAPTER_FILE)
    weights = load_file(str(SHIPPED / ADAPTER_FILE))
    save_file({k: torch.zeros_like(v) for k, v in weights.items()}, str(path / OWN))
    return path


def small_head(path, adapter: str | None):
    metadata = {"task": "detection"} | ({"adapter": adapter} if adapter is not None else {})
    save_model(KAN(KANConfig((HEAD_INPUTS, 2, HEAD_OUTPUTS))), path, metadata=metadata)
    return path


def adapter_weights(detector) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in detector.predictor.adapter.parameters()])


@pytest.mark.parametrize("name", ["location_adapter.safetensors", "location_adapter_kan_head.safetensors",
                                  "location_adapter-2.v1.safetensors"])
def test_plain_adapter_names_are_kept(name):
    assert adapter_file({"adapter": name}) == name


@given(st.text(max_size=40))
def test_a_name_that_could_leave_the_folder_is_refused(name):
    """Whatever a file's metadata says, only a location_adapter*.safetensors name in the folder is read."""
    try:
        kept = adapter_file({"adapter": name})
    except SharekanError:
        return
    assert "/" not in kept and "\\" not in kept and ".." not in kept and kept.startswith("location_adapter")


def test_no_adapter_in_the_metadata_means_the_shared_one():
    assert adapter_file(None) == adapter_file({}) == ADAPTER_FILE
    with pytest.raises(SharekanError, match="adapter"):
        adapter_file({"adapter": 7})


def test_a_head_file_runs_with_the_adapter_it_names(folder, tmp_path):
    own = load_detector(small_head(tmp_path / "own.safetensors", OWN), folder)
    shared = load_detector(small_head(tmp_path / "shared.safetensors", None), folder)
    assert adapter_weights(own).abs().max() == 0
    assert adapter_weights(shared).abs().max() > 0
    forced = load_detector(tmp_path / "own.safetensors", folder, folder / ADAPTER_FILE)  # an explicit adapter wins
    assert torch.equal(adapter_weights(forced), adapter_weights(shared))


def test_the_metric_files_follow_the_model():
    from sharekan_core.detection.labels import COCO_EXTRA

    files = settings().detector_files
    assert files.adapter_path == SHIPPED / ADAPTER_FILE
    own = files.for_model({"adapter": OWN})
    assert own.adapter_path == SHIPPED / OWN and own.for_labels(COCO_EXTRA).adapter == OWN
    with pytest.raises(SharekanError):
        files.for_model({"adapter": "../../etc/passwd"})


def test_the_metric_files_follow_the_models_label_set():
    """Each shipped head is measured against the teacher's detections of its own classes (the second head was
    handed the VOC reference, and Compress with task quality always failed on it)."""
    from sharekan_core.detection.kan_head import check_head_shape
    from sharekan_core.detection.labels import VOC
    from sharekan_core.io import read_model
    from sharekan_core.tasks.detection import reference_labels

    files = settings().detector_files
    for name in ("kan_head.safetensors", "kan_head_coco_extra.safetensors"):
        loaded = read_model(SHIPPED / name)
        labels = check_head_shape(*loaded.model.config.widths[::len(loaded.model.config.widths) - 1])
        chosen = files.for_model(loaded.metadata)
        assert reference_labels(chosen) is labels and chosen.adapter == adapter_file(loaded.metadata), name
    assert reference_labels(files.for_model({})) is VOC  # a head that names no label set keeps the folder's
    with pytest.raises(SharekanError, match="label set"):
        files.for_model({"labels": "imagenet"})


def test_the_studio_detectors_read_the_named_adapter(folder, monkeypatch):
    from sharekan_core.results import compress_and_measure
    from sharekan_core.studio import detection

    monkeypatch.setattr(detection, "settings", lambda: type("S", (), {"detector_dir": folder})())
    head = KAN(KANConfig((HEAD_INPUTS, 2, HEAD_OUTPUTS)))
    assert adapter_weights(detection.dense_detector(head, {"adapter": OWN})).abs().max() == 0
    assert adapter_weights(detection.dense_detector(head, {})).abs().max() > 0
    result = compress_and_measure(head, CompressionConfig(codebook_size=4, bits=8), metadata={"adapter": OWN})
    for decompressed in (False, True):
        detector, _ = detection.compressed_detector(result, decompressed)
        assert adapter_weights(detector).abs().max() == 0


def test_a_head_naming_a_path_is_one_clear_error(tmp_path, capsys):
    path = small_head(tmp_path / "bad.safetensors", "../../secret.safetensors")
    status = main(["evaluate", str(path), "--task", "detection"])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1 and err[0].startswith("error:") and "adapter" in err[0]
    assert path.is_file()  # the head file is left as it was


def test_an_upload_naming_a_path_as_its_adapter_is_refused(tmp_path):
    """Checked once at upload, so no page meets it later (Trade-offs builds its metric outside any handler)."""
    from sharekan_core.studio.models import read_upload

    payload = small_head(tmp_path / "bad.safetensors", "../../secret.safetensors").read_bytes()
    with pytest.raises(SharekanError, match="adapter"):
        read_upload("bad.safetensors", payload)
    good = small_head(tmp_path / "good.safetensors", OWN).read_bytes()
    assert read_upload("good.safetensors", good).metadata["adapter"] == OWN
