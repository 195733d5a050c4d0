"""Run the file fuzz suite and save its tally as assets/reliability/summary.json (read by readme_tables.py).

Usage: python scripts/reliability_summary.py
The cases are repeatable (hypothesis runs derandomized), so the counts change only when the suite does.
"""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUMMARY = ROOT / "assets" / "reliability" / "summary.json"
SUITE = "tests/test_fuzz_files.py"


def main() -> None:
    SUMMARY.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    status = subprocess.call([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", SUITE], cwd=ROOT,
                             env={**os.environ, "SHAREKAN_RELIABILITY_SUMMARY": str(SUMMARY)})
    document = json.loads(SUMMARY.read_text())
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # pytest and the memory-limited child it starts
    document.update({"suite": SUITE, "suite_passed": status == 0, "seconds": round(time.perf_counter() - started, 1),
                     "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1), "cores": os.cpu_count(),
                     "load_average": round(os.getloadavg()[0], 1)})
    SUMMARY.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")
    print(json.dumps(document, indent=1, sort_keys=True))
    sys.exit(status)


if __name__ == "__main__":
    main()
