"""The distillation recipe's source sampling: the share of draws that video frames get."""
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
