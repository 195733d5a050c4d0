"""Cold start of the fused kernels: the first compressed forward after install compiles them (numba).

Runs two fresh Python processes on the same empty numba cache folder. Each loads a compressed
file and times its first call at batch 1 (row route), 7 (grouped route) and 300 (tile route):
the first process compiles every kernel for the file's code widths and writes the cache, the
second only loads it. Records which kernels each process compiled (cache misses) and loaded.

    python bench/cold_start.py [--compressed FILE] [--json assets/runtime/cold_start.json]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from sharekan_core.io import write_bytes_atomic

BATCHES = (1, 7, 300)

# Runs in the child processes: first-call seconds per batch, then numba's per-kernel cache statistics.
CHILD = """
import json, sys, time
import numpy as np
from sharekan_core.format import load_compressed
from sharekan_core.runtime import fused_kernel
fused = fused_kernel.FusedKAN.from_compressed(load_compressed(sys.argv[1]))
cached_before = fused_kernel.kernels_cached()
seconds = {}
for batch in (%s):
    tick = time.perf_counter()
    fused(np.zeros((batch, fused.in_features), np.float32))
    seconds[batch] = time.perf_counter() - tick
stats = {k.__name__: {"compiled": sum(k.stats.cache_misses.values()), "loaded": sum(k.stats.cache_hits.values())}
         for k in fused_kernel.KERNELS}
print(json.dumps({"first_call_s": seconds, "kernels": stats, "kernels_cached_before": cached_before}))
""" % ", ".join(map(str, BATCHES))


def child_run(compressed: Path, cache_dir: str) -> dict:
    """One fresh process's first calls on ``cache_dir``."""
    env = {**os.environ, "NUMBA_CACHE_DIR": cache_dir, "NUMBA_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", CHILD, str(compressed)], env=env, capture_output=True, text=True,
                          check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def default_compressed(folder: Path) -> Path:
    """The bundled digits model compressed at K = 256, Int8, written into ``folder``."""
    import sharekan_core as sk

    path = folder / "digits_K256_int8.skan"
    model = sk.load_model(Path(__file__).resolve().parents[1] / "sample_models" / "digits_kan.safetensors")
    sk.save_compressed(sk.compress(model, sk.CompressionConfig(codebook_size=256, bits=8)), path)
    return path


def main() -> None:
    """Time a cold and a warm process, print and save the JSON."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--compressed", type=Path, help="compressed file (default: digits at K = 256, Int8)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        compressed = args.compressed or default_compressed(Path(folder))
        cache = str(Path(folder) / "numba_cache")
        runs = {"cold": child_run(compressed, cache), "warm": child_run(compressed, cache)}
    document = {"compressed": compressed.name, "batches": list(BATCHES), **runs,
                "note": "first call per batch in a fresh process; 'cold' starts from an empty numba cache folder"}
    for name in ("cold", "warm"):
        calls = ", ".join(f"batch {b}: {s:.2f} s" for b, s in runs[name]["first_call_s"].items())
        compiled = sum(k["compiled"] for k in runs[name]["kernels"].values())
        print(f"{name}: {calls}; {compiled} kernel compilations")
    if args.json:
        write_bytes_atomic(args.json, json.dumps(document, indent=1).encode())


if __name__ == "__main__":
    main()
