"""Shared fixtures: small KANs built from known prototype shapes."""
from __future__ import annotations

import collections
import os

import numpy as np
import pytest
import torch

from sharekan_core.model import KAN, KANConfig

if os.environ.get("PYTEST_XDIST_WORKER"):
    # pytest-xdist runs one process per core: torch's own per-process thread pool on top oversubscribes the
    # cores, and threads that wait at barriers for descheduled peers made small training loops 2-10x slower
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))))

# The files that take longest under `make test` (2 workers, --dist loadfile; see --durations), longest first.
# loadfile hands out whole files in collection order, and by default xdist orders them by their number of tests,
# which left the one- to three-test browser files for last: one ran alone for minutes while the other worker idled.
# Started first, the rest of the suite fills in beside them.
LONGEST_FILES = ("test_e2e_sessions.py", "test_e2e_uploads.py", "test_e2e_browser.py", "test_app_pages.py",
                 "test_runtime_export.py", "test_detection_export.py", "test_runtime_program.py")


def pytest_configure(config):
    if hasattr(config.option, "loadscopereorder"):  # pytest-xdist: keep the order pytest_collection_modifyitems sets
        config.option.loadscopereorder = False


def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist, run LONGEST_FILES first, then the other files by falling number of tests (xdist's own
    order); each file's tests keep their order."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return
    counts = collections.Counter(item.path.name for item in items)

    def rank(item) -> tuple[int, int]:
        name = item.path.name
        return (LONGEST_FILES.index(name) if name in LONGEST_FILES else len(LONGEST_FILES), -counts[name])

    items.sort(key=rank)


def prototype_kan(widths: tuple[int, ...], prototypes: int, seed: int = 0, grid_size: int = 10,
                  order: int = 3) -> KAN:
    """A KAN whose every spline is bias + gain * one of ``prototypes`` unit shapes (per layer)."""
    rng = np.random.default_rng(seed)
    model = KAN(KANConfig(widths, grid_size, order))
    coeffs = grid_size + order
    with torch.no_grad():
        for layer in model.layers:
            shapes = rng.normal(size=(prototypes, coeffs))
            shapes -= shapes.mean(axis=1, keepdims=True)
            shapes /= np.linalg.norm(shapes, axis=1, keepdims=True)
            edges = layer.in_features * layer.out_features
            choice = rng.integers(0, prototypes, size=edges)
            gains = rng.uniform(0.1, 2.0, size=edges)
            biases = rng.normal(scale=0.3, size=edges)
            coefficients = biases[:, None] + gains[:, None] * shapes[choice]
            layer.spline_weight.copy_(torch.from_numpy(coefficients.reshape(layer.out_features, layer.in_features, coeffs)))
            layer.spline_scaler.copy_(torch.from_numpy(rng.uniform(0.5, 1.5, size=(layer.out_features, layer.in_features))))
    return model


@pytest.fixture
def small_kan() -> KAN:
    """A random two-layer KAN, 8 -> 6 -> 3."""
    torch.manual_seed(0)
    return KAN(KANConfig((8, 6, 3)))


@pytest.fixture
def proto_kan() -> KAN:
    """A 12 -> 10 -> 4 KAN built from 5 prototype shapes per layer."""
    return prototype_kan((12, 10, 4), prototypes=5)


def pykan_checkpoint(folder, width=(4, 5, 3)):
    """A real pykan KAN with non-uniform per-input grids, saved by pykan into ``folder``; returns (model, samples, state path)."""
    import os

    kan = pytest.importorskip("kan")
    cwd = os.getcwd()
    os.chdir(folder)  # pykan writes history files into the working directory
    try:
        torch.manual_seed(0)
        reference = kan.KAN(width=list(width), grid=7, k=3, seed=1, auto_save=False)
        samples = torch.rand(200, width[0]) * 1.6 - 0.8
        reference.update_grid_from_samples(samples)  # non-uniform, per-input grids
        with torch.no_grad():
            reference.node_bias_0.add_(0.1)
            reference.subnode_scale_1.mul_(1.3)
        reference.saveckpt(str(folder / "pk"))
    finally:
        os.chdir(cwd)
    return reference, samples, folder / "pk_state"
