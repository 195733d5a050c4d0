"""The distillation recipe's source sampling: the share of draws that video frames get, plain and zoomed views."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from distill_detection_head import share_frames  # noqa: E402

weights = st.floats(min_value=0.1, max_value=8.0, allow_nan=False)


@given(st.lists(weights, min_size=1, max_size=20), st.lists(weights, min_size=1, max_size=20),
       st.floats(min_value=0.01, max_value=0.99))
def test_frames_hold_the_share_asked_and_the_total_is_kept(photo_w, frame_w, share):
    names = [f"photo{i}" for i in range(len(photo_w))] + [f"video.mp4#{i}" for i in range(len(frame_w))]
    out = share_frames(names, photo_w + frame_w, share)
    frames = sum(out[len(photo_w):])
    assert frames / sum(out) == pytest.approx(share, rel=1e-9)
    assert sum(out) == pytest.approx(sum(photo_w + frame_w), rel=1e-9)
    # within each kind the class-balanced ratios are kept
    assert out[0] / out[-1] == pytest.approx(photo_w[0] / frame_w[-1] * (1 - share) / share
                                             * sum(frame_w) / sum(photo_w), rel=1e-9)


def test_no_share_or_one_kind_only_leaves_the_weights_alone():
    assert share_frames(["a", "v#1"], [1.0, 3.0], None) == [1.0, 3.0]
    assert share_frames(["a", "b"], [1.0, 3.0], 0.5) == [1.0, 3.0]


@pytest.mark.parametrize("share", [0.0, 1.0, -0.2, float("nan")])
def test_a_share_outside_the_open_interval_is_refused(share):
    with pytest.raises(ValueError):
        share_frames(["a", "v#1"], [1.0, 1.0], share)


class _RecordingTeacher:
    """Stands in for the teacher: records each view it is shown, returns zero maps and targets."""

    def __init__(self, boxes: list | None = None) -> None:
        self.views: list = []
        self.box_list = boxes or []
        self.looked = 0

    def boxes(self, image):
        self.looked += 1
        return list(self.box_list)

    def __call__(self, view):
        import torch
        self.views.append(view)
        return [torch.zeros(2, 3, 3)], torch.zeros(500, 6, 25)


def _plain_kind(view, sources) -> str | None:
    """'plain' or 'mirrored' when ``view`` is a whole source resized to the input, else None."""
    from PIL import Image, ImageOps
    from distill_detection_head import SIDE
    for source in sources:
        whole = source.resize((SIDE, SIDE), Image.BILINEAR)
        if view.tobytes() == whole.tobytes():
            return "plain"
        if view.tobytes() == ImageOps.mirror(whole).tobytes():
            return "mirrored"
    return None


@pytest.mark.parametrize("share", [0.0, 0.4])
def test_plain_share_is_the_share_of_fresh_views_that_are_whole_sources(share):
    import random

    import numpy as np
    from PIL import Image

    from distill_detection_head import ViewPool
    rng = np.random.default_rng(0)
    sources = [Image.fromarray(rng.integers(0, 256, (40, 56, 3), dtype=np.uint8)) for _ in range(3)]
    teacher = _RecordingTeacher()
    pool = ViewPool(teacher, sources, [1.0, 1.0, 1.0], 4, random.Random(1), plain_share=share)
    assert _plain_kind(teacher.views[0], sources) == "plain"      # slot 0 of the first fill is plain
    teacher.views.clear()
    for _ in range(300):
        pool.refresh(pool.rng.randrange(pool.size))
    kinds = [_plain_kind(v, sources) for v in teacher.views]
    plain = sum(k is not None for k in kinds) / len(kinds)
    assert abs(plain - share) < 0.1                              # 300 draws: the binomial sd is under 0.03
    if share:
        assert 0.3 < kinds.count("mirrored") / (len(kinds) * share) < 0.7


@pytest.mark.parametrize("value", ["1.0", "-0.1", "nan"])
def test_a_plain_share_outside_the_interval_is_one_error_line(value, tmp_path, monkeypatch, capsys):
    """The script's own main in this process (a fresh interpreter per value cost seconds each; the zoom-share test
    below runs the script as a real process)."""
    from distill_detection_head import main

    monkeypatch.setattr(sys, "argv", ["distill_detection_head.py", "--plain-share", value, "--out", str(tmp_path / "x")])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 2
    assert "error: --plain-share" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


@given(st.floats(0, 200), st.floats(0, 150), st.floats(2, 200), st.floats(2, 150), st.integers(0, 2**32 - 1))
def test_a_zoomed_crop_holds_its_box_at_half_to_nine_tenths_of_each_side(x, y, w, h, seed):
    import random

    from PIL import Image

    from distill_detection_head import zoom_crop
    image = Image.new("RGB", (240, 180), (10, 200, 30))
    crop = zoom_crop(image, (x, y, x + w, y + h), random.Random(seed))
    # each side is the box's over a fill of 0.5-0.9, give or take the pixel that rounding both edges can cost
    assert w / 0.9 - 1 <= crop.width <= w / 0.5 + 1
    assert h / 0.9 - 1 <= crop.height <= h / 0.5 + 1


def test_a_zoomed_crop_outside_the_image_is_filled_with_its_mean_colour():
    import random

    from PIL import Image

    from distill_detection_head import zoom_crop
    image = Image.new("RGB", (100, 80), (200, 40, 40))
    crop = zoom_crop(image, (0, 0, 20, 20), random.Random(0))  # a corner box: the crop reaches past the edges
    assert crop.getpixel((0, 0)) == (200, 40, 40) and crop.getpixel((crop.width - 1, crop.height - 1)) == (200, 40, 40)


@pytest.mark.parametrize("share", [0.0, 0.3])
def test_zoom_share_is_the_share_of_fresh_views_zoomed_onto_a_teacher_box(share):
    import random

    import numpy as np
    from PIL import Image

    from distill_detection_head import ViewPool
    rng = np.random.default_rng(0)
    sources = [Image.fromarray(rng.integers(0, 256, (40, 56, 3), dtype=np.uint8)) for _ in range(3)]
    teacher = _RecordingTeacher(boxes=[(10.0, 8.0, 30.0, 28.0)])
    pool = ViewPool(teacher, sources, [1.0, 1.0, 1.0], 4, random.Random(1), zoom_share=share)
    looked = teacher.looked
    for _ in range(300):
        pool.refresh(pool.rng.randrange(pool.size))
    assert abs((teacher.looked - looked) / 300 - share) < 0.1     # each zoomed view asks the teacher for its boxes
    if not share:
        assert teacher.looked == 0                                # 0 keeps the old draws: no teacher look, no draw


def test_a_zoom_share_outside_the_interval_is_one_error_line(tmp_path):
    import subprocess
    script = Path(__file__).resolve().parents[1] / "scripts" / "distill_detection_head.py"
    done = subprocess.run([sys.executable, str(script), "--zoom-share", "1.5", "--out", str(tmp_path / "x")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "error: --zoom-share" in done.stderr
    assert not (tmp_path / "x").exists()
