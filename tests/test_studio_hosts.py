"""sharekan_core/studio/hosts.py: the Runtime page says on which host each figure was taken."""
from sharekan_core.studio.hosts import cache_words, saved_host_words, this_host


def test_cache_words_give_each_level_in_its_unit():
    assert cache_words({"L1d": 32768, "L2": 524288, "L3": 33554432}) == "L1d 32 KiB, L2 512 KiB, L3 32 MiB"
    assert cache_words({}) == "unknown caches"


def test_a_curve_from_another_host_is_said_to_be_from_another_host():
    saved = {"caches": {"L1d": 32768, "L2": 524288, "L3": 8388608}, "processor": "x86_64"}
    here = {"L1d": 32768, "L2": 1048576, "L3": 33554432}
    words = saved_host_words(saved, here)
    assert "another host" in words and "L2 512 KiB" in words and "L2 1 MiB" in words
    assert "same caches" in saved_host_words(saved, dict(saved["caches"]))


def test_this_host_names_its_cores():
    assert "cores" in this_host()
