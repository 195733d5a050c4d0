"""Odd inputs: every mode Pillow can read becomes upright RGB; bad files raise one clear SharekanError."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from sharekan_core.detection import preprocess
from sharekan_core.detection.preprocess import load_image, to_input
from sharekan_core.errors import SharekanError


def save(tmp_path, image, name, **kwargs):
    path = tmp_path / name
    image.save(path, **kwargs)
    return path


@pytest.mark.parametrize("image,name", [
    (Image.new("CMYK", (40, 30), (0, 255, 255, 0)), "cmyk.jpg"),
    (Image.fromarray(np.full((30, 40), 60000, dtype=np.uint16)), "grey16.png"),
    (Image.new("RGBA", (40, 30), (255, 0, 0, 0)), "alpha.png"),
    (Image.new("P", (40, 30), 3), "palette.gif"),
    (Image.new("L", (40, 30), 128), "grey.jpg"),
    (Image.new("1", (40, 30), 1), "bilevel.png"),
])
def test_any_mode_becomes_rgb(tmp_path, image, name):
    loaded = load_image(save(tmp_path, image, name))
    assert loaded.mode == "RGB" and loaded.size == (40, 30)
    assert to_input(loaded).shape == (1, 3, 300, 300)


def test_sixteen_bit_is_rescaled_not_clipped(tmp_path):
    ramp = np.linspace(0, 65535, 40 * 30).reshape(30, 40).astype(np.uint16)
    pixels = np.asarray(load_image(save(tmp_path, Image.fromarray(ramp), "ramp16.png")))
    assert pixels.min() == 0 and pixels.max() == 255 and len(np.unique(pixels)) > 200


def test_transparent_pixels_become_white(tmp_path):
    pixels = np.asarray(load_image(save(tmp_path, Image.new("RGBA", (4, 4), (255, 0, 0, 0)), "clear.png")))
    assert (pixels == 255).all()


def test_exif_rotation_is_applied(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    path = save(tmp_path, Image.new("RGB", (40, 30), "white"), "rotated.jpg", exif=exif)
    assert load_image(path).size == (30, 40)


def test_tiny_and_extreme_aspect_images_work(tmp_path):
    assert to_input(load_image(save(tmp_path, Image.new("RGB", (1, 1)), "dot.png"))).shape == (1, 3, 300, 300)
    assert to_input(load_image(save(tmp_path, Image.new("RGB", (2000, 3)), "strip.png"))).shape == (1, 3, 300, 300)


def test_bad_files_raise_one_line(tmp_path):
    text = tmp_path / "notes.jpg"
    text.write_text("not an image")
    truncated = tmp_path / "cut.jpg"
    Image.new("RGB", (200, 200), "blue").save(tmp_path / "whole.jpg")
    truncated.write_bytes((tmp_path / "whole.jpg").read_bytes()[:300])
    for path, message in [(text, r"not a readable image \(unknown format\)"), (truncated, "corrupt or truncated"),
                          (tmp_path / "missing.png", "no such image file")]:
        with pytest.raises(SharekanError, match=message) as info:
            load_image(path)
        assert "\n" not in str(info.value)
        assert "Error" not in str(info.value)  # a user reads what is wrong, not an exception class


def test_absurd_size_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(preprocess, "MAX_PIXELS", 100)
    with pytest.raises(SharekanError, match="too large"):
        load_image(save(tmp_path, Image.new("RGB", (20, 20)), "big.png"))
