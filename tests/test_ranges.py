"""sharekan_core.ranges: the one bit-width table, each set named by what it is."""
from __future__ import annotations

from sharekan_core import ranges
from sharekan_core.format.integrity import PAYLOAD_DTYPES


def test_the_bit_width_sets():
    assert ranges.CONFIG_BITS == (32, 16, 8, 4) and ranges.UNIFORM_BITS == (2, 3, 4, 5, 6, 7, 8)
    assert ranges.FILE_BITS == (2, 3, 4, 5, 6, 7, 8, 16, 32)
    assert set(ranges.CONFIG_BITS) | set(ranges.UNIFORM_BITS) == set(ranges.FILE_BITS)
    assert ranges.SUPPORTED_BITS == ranges.CONFIG_BITS  # the earlier name


def test_a_file_may_store_exactly_the_widths_it_has_a_payload_type_for():
    assert sorted(PAYLOAD_DTYPES) == list(ranges.FILE_BITS)
