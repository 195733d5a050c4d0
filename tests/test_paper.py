"""sharekan_core/paper.py is the one home of the paper's figures: the studio reads them, nothing types them again."""
from __future__ import annotations

import re
from pathlib import Path

from sharekan_core import paper
from sharekan_core.studio import scaling, tradeoffs

ROOT = Path(__file__).resolve().parents[1]
TYPED = re.compile(r"58\.67|82\.22|80\.22|6\.32\b|0\.889|88\.9|2\.9 GB|\b211(\.0)? ?MB|\b2900\b|2512\.15742")


def test_the_studio_draws_the_papers_figures_from_paper_py():
    assert [(mb, voc_map) for _, mb, voc_map in tradeoffs.PAPER_FIGURES] == \
        [(paper.DENSE_HEAD_MB, paper.DENSE_VOC_MAP), (paper.INT8_HEAD_MB, paper.INT8_VOC_MAP)]
    frame = scaling.paper_frame()
    assert frame["MB"].tolist() == [paper.HEADS_DENSE_MB, paper.HEADS_SHARED_MB]
    assert set(frame["heads"]) == {paper.HEADS} and paper.ARXIV_ID in scaling.paper_caption()


def test_no_code_types_the_papers_figures_again():
    typed = [f"{path.relative_to(ROOT)}:{number}" for folder in ("sharekan_core", "app_pages", "scripts", "bench")
             for path in sorted((ROOT / folder).rglob("*.py")) if path != ROOT / "sharekan_core" / "paper.py"
             for number, line in enumerate(path.read_text().splitlines(), 1) if TYPED.search(line)]
    assert typed == []
