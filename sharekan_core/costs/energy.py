"""Energy per inference, an estimate: bytes moved per memory level and arithmetic, priced with a cited table.

Every constant is from M. Horowitz, "Computing's energy problem (and what we can do about it)",
ISSCC 2014, Digest of Technical Papers, pp. 10-14 (45 nm, 0.9 V). It is an estimate for a 45 nm
part, not a measurement of this host: the paper gives no figure for SRAM above 1 MB, so L3 is
priced at the 1 MB figure (a lower bound), and DRAM as the paper's 1.3-2.6 nJ range.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import SharekanError
from ..runtime.routes import fused_route
from .memory_traffic import (CodeWidths, LayerShape, Touched, compressed_report, compressed_sets,
                          compressed_shapes_and_widths, dense_report, dense_sets, distinct_windows, footprint)

SOURCE = ('M. Horowitz, "Computing\'s energy problem (and what we can do about it)", ISSCC 2014, '
          "pp. 10-14, 45 nm")
# (largest SRAM size in bytes, pJ per 64-bit read) from the paper's cache rows
SRAM_PJ_PER_64BIT = ((8 << 10, 10.0), (32 << 10, 20.0), (1 << 20, 100.0))
DRAM_PJ_PER_64BIT = (1300.0, 2600.0)  # low, high
FP32_MULT_PJ, FP32_ADD_PJ = 3.7, 0.9
INT8_MULT_PJ, INT8_ADD_PJ = 0.2, 0.03
FP32_MAC_PJ = FP32_MULT_PJ + FP32_ADD_PJ


@dataclass(frozen=True)
class EnergyEstimate:
    """Estimated nJ per inference: memory (low, high over the DRAM range) and arithmetic, with the source."""

    memory_nj: tuple[float, float]
    arithmetic_nj: float
    by_level_nj: dict[str, tuple[float, float]]
    source: str = SOURCE

    @property
    def total_nj(self) -> tuple[float, float]:
        """(low, high) total nJ per inference."""
        return (self.memory_nj[0] + self.arithmetic_nj, self.memory_nj[1] + self.arithmetic_nj)


def access_pj(level: str, caches: dict[str, int]) -> tuple[float, float]:
    """(low, high) pJ per 64-bit read at ``level`` ('L1d', 'L2', 'L3', 'DRAM'), sized by this host's caches."""
    if level not in caches:
        return DRAM_PJ_PER_64BIT
    size = caches[level]
    for limit, energy in SRAM_PJ_PER_64BIT:
        if size <= limit:
            return (energy, energy)
    return (SRAM_PJ_PER_64BIT[-1][1],) * 2  # above 1 MB the paper has no figure: its 1 MB price, a lower bound


def multiply_adds(shapes: list[LayerShape], batch: int, form: str, widths: list[CodeWidths] | None = None) -> int:
    """FP32 multiply-adds per call, counted per edge (basis evaluation, O(in * B), is left out for every form).

    'efficient-kan': D + 1 per edge and row, plus one scaling multiply per coefficient;
    'pre-scaled': D + 1 per edge and row; 'dense kernel': k + 2 per edge and row;
    'compressed' (needs ``widths``), by ``routes.fused_route``'s route: row, per edge and row k + 1 for the taps
    and 4 accumulations; grouped, per edge 3 to dequantize gain, bias and base, 4 per distinct window for the
    gain-scaled taps, and 7 per edge and row; tile, 2D + 3 per edge to decode the tile and D + 1 per edge and
    row in its matrix product.
    """
    total = 0
    for n, s in enumerate(shapes):
        e, d, taps = s.edges, s.num_bases, s.order + 1
        if form == "efficient-kan":
            total += e * batch * (d + 1) + e * d
        elif form == "pre-scaled":
            total += e * batch * (d + 1)
        elif form == "dense kernel":
            total += e * batch * (taps + 1)
        elif form == "compressed" and widths is not None and fused_route(batch, s.order) == "tile":
            total += e * (2 * d + 3) + e * batch * (d + 1)
        elif form == "compressed" and widths is not None and fused_route(batch, s.order) == "grouped":
            total += e * (3 + 4 * distinct_windows(s, batch)) + e * batch * 7
        elif form == "compressed" and widths is not None:
            total += e * batch * (taps + 4)
        else:
            raise SharekanError(f"unknown form {form!r} (the compressed form needs its code widths)")
    return total


def estimate(items: list[Touched], macs: int, caches: dict[str, int]) -> EnergyEstimate:
    """Price each touched item at its level's 64-bit access energy and the multiply-adds at FP32."""
    by_level: dict[str, tuple[float, float]] = {}
    for t in items:
        low, high = access_pj(t.level, caches)
        words = t.nbytes / 8
        old = by_level.get(t.level, (0.0, 0.0))
        by_level[t.level] = (old[0] + words * low / 1e3, old[1] + words * high / 1e3)
    memory = (sum(v[0] for v in by_level.values()), sum(v[1] for v in by_level.values()))
    return EnergyEstimate(memory, macs * FP32_MAC_PJ / 1e3, by_level)


# (label, dense form counted by memory_traffic, form counted by multiply_adds)
DENSE_FORMS = (("dense, efficient-kan eager", "efficient-kan", "efficient-kan"),
               ("dense, pre-scaled eager", "pre-scaled", "pre-scaled"),
               ("dense, local-support kernel", "pre-scaled", "dense kernel"))
COMPRESSED_FORM = "compressed, fused kernel"


def dense_vs_compressed(compressed, batch: int, caches: dict[str, int]) -> list[dict]:
    """Per form of the same head at ``batch`` rows: bytes touched (total, per edge streamed, by level), the distinct
    bytes it needs cached at once (footprint), and the energy estimate."""
    shapes, widths = compressed_shapes_and_widths(compressed)
    forms = [(label, dense_report(shapes, batch, caches, items), ops, footprint(dense_sets(shapes, batch, items)))
             for label, items, ops in DENSE_FORMS]
    forms.append((COMPRESSED_FORM, compressed_report(compressed, batch, caches), "compressed",
                  footprint(compressed_sets(compressed, batch))))
    edges = sum(s.edges for s in shapes)
    rows = []
    for label, items, ops, needed in forms:
        energy = estimate(items, multiply_adds(shapes, batch, ops, widths), caches)
        levels: dict[str, int] = {}
        for t in items:
            levels[t.level] = levels.get(t.level, 0) + t.nbytes
        rows.append({"form": label, "batch": batch, "touched_bytes": sum(t.nbytes for t in items),
                     "footprint_bytes": needed,
                     "streamed_bytes_per_edge": sum(t.nbytes for t in items if t.working_set == "stream") / edges,
                     "bytes_by_level": levels, "memory_nj": list(energy.memory_nj),
                     "arithmetic_nj": energy.arithmetic_nj, "total_nj": list(energy.total_nj),
                     "source": energy.source})
    return rows
