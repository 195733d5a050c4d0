"""costs/cache_residency: sysfs parsing, level fitting, the residency report, the parts table; costs/ beside runtime/."""
from conftest import prototype_kan
from sharekan_core.compression import CompressionConfig, compress
from sharekan_core.costs.cache_residency import fits_in, host_caches, residency_report, layer_residencies
from sharekan_core.costs.cache_parts import CACHE_PARTS


def fake_sysfs(root, entries):
    for index, (level, kind, size) in enumerate(entries):
        folder = root / f"index{index}"
        folder.mkdir(parents=True)
        (folder / "level").write_text(f"{level}\n")
        (folder / "type").write_text(f"{kind}\n")
        (folder / "size").write_text(f"{size}\n")


def test_host_caches_from_sysfs(tmp_path):
    fake_sysfs(tmp_path, [(1, "Data", "48K"), (1, "Instruction", "32K"), (2, "Unified", "1024K"), (3, "Unified", "32768K")])
    assert host_caches(tmp_path) == {"L1d": 48 << 10, "L2": 1 << 20, "L3": 32 << 20}


def test_missing_sysfs_is_not_an_error(tmp_path):
    assert host_caches(tmp_path / "absent") == {}
    assert fits_in(10, {}) == "unknown"


def test_fits_in_smallest_level():
    caches = {"L1d": 100, "L2": 1000, "L3": 10_000}
    assert [fits_in(n, caches) for n in (50, 100, 101, 5000, 10_001)] == ["L1d", "L1d", "L2", "L3", "DRAM"]


def test_report_counts_components():
    compressed = compress(prototype_kan((12, 10, 4), prototypes=5), CompressionConfig(codebook_size=8, bits=8))
    sets = layer_residencies(compressed)
    assert sets[0].streamed["indices"] == (120 * 3 + 7) // 8  # 3-bit indices
    assert sets[0].streamed["gains"] == compressed.layers[0].gains.nbytes
    report = residency_report(compressed, {"L2": 1 << 20})
    # dense FP32 per edge: 13 spline coefficients, scaler and base weight; 120 + 40 edges
    assert [s.dense_edge_bytes for s in sets] == [120 * 15 * 4, 40 * 15 * 4]
    assert report["head"]["dense_edge_bytes"] == 160 * 15 * 4
    assert report["layers"][0]["codebook_fits"] == "L2"
    assert len(report["parts"]) == len(CACHE_PARTS)


def test_parts_table_cites_sources():
    names = {p.name for p in CACHE_PARTS}
    assert {"NVIDIA H100 SXM5", "NVIDIA A100 (40 GB)"} <= names
    assert all(p.source.startswith("https://") and p.l2_bytes > 0 for p in CACHE_PARTS)
    assert {p.name: p.l2_bytes for p in CACHE_PARTS}["NVIDIA A100 (40 GB)"] == 40 << 20


def test_the_cost_models_sit_beside_the_runtime_which_never_imports_them():
    import re
    from pathlib import Path

    runtime = Path(__file__).resolve().parents[1] / "sharekan_core" / "runtime"
    importing = re.compile(r"from \.\.costs\b|sharekan_core\.costs\b|from \.\. import costs\b")
    assert not [path.name for path in runtime.glob("*.py") if importing.search(path.read_text())]
    assert not [path.name for path in runtime.glob("*.py")
                if path.stem in ("cache_model", "cache_parts", "energy", "working_set")]
