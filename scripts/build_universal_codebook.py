"""Build the universal shape codebook and measure what it costs against each model's own codebook.

Sources: every shipped KAN (digits x3, VOC detection heads x2, the other-COCO-classes head) and small KANs trained here in seconds on
data that scikit-learn ships or generates (iris, wine, diabetes, Friedman #1). A KAN on breast_cancer
is trained the same way but held out of the codebook: the never-seen model.

Usage: python scripts/build_universal_codebook.py [--size 4096] [--detection-metric]
Writes sample_models/universal_codebook.safetensors and assets/universal/universal_codebook.json.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from sklearn import datasets
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import MinMaxScaler

from sharekan_core.detection.labels import COCO_EXTRA
from sharekan_core.experiments.universal import fit_universal_codebook, save_universal_codebook, universal_cost
from sharekan_core.io import read_model, write_bytes_atomic
from sharekan_core.model import KAN, KANConfig
from sharekan_core.paths import settings
from sharekan_core.tasks import task_metric

FOLDERS = settings()
SHIPPED = {"digits_kan": FOLDERS.models_dir / "digits_kan.safetensors",
           "digits_kan_seed1": FOLDERS.models_dir / "digits_kan_seed1.safetensors",
           "digits_kan_seed2": FOLDERS.models_dir / "digits_kan_seed2.safetensors",
           "kan_head": FOLDERS.detector_dir / "kan_head.safetensors",
           "kan_head_seed1": FOLDERS.detector_dir / "kan_head_seed1.safetensors",
           "kan_head_coco_extra": FOLDERS.detector_dir / "kan_head_coco_extra.safetensors"}
TRAINED_SOURCES = ("iris", "wine", "diabetes", "friedman1")
HELD_OUT = "breast_cancer"
TRAIN_STEPS, TRAIN_SEED = 400, 0


def dataset(name: str) -> tuple[np.ndarray, np.ndarray, bool]:
    """(inputs, targets, is_classification) of a scikit-learn dataset that ships with the package."""
    if name == "friedman1":
        x, y = datasets.make_friedman1(n_samples=1000, noise=0.5, random_state=TRAIN_SEED)
        return x, y, False
    loader = {"iris": datasets.load_iris, "wine": datasets.load_wine, "diabetes": datasets.load_diabetes,
              "breast_cancer": datasets.load_breast_cancer}[name]
    bunch = loader()
    return bunch.data, bunch.target, name != "diabetes"


def train_small_kan(name: str) -> tuple[KAN, callable]:
    """A [in, 8, out] KAN trained full-batch with Adam on a 75 % split; returns it and its test metric."""
    x, y, classify = dataset(name)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=TRAIN_SEED)
    scaler = MinMaxScaler((-1, 1)).fit(x_train)
    x_train, x_test = (torch.tensor(np.clip(scaler.transform(v), -1, 1), dtype=torch.float32) for v in (x_train, x_test))
    if classify:
        y_train, y_test, outputs = torch.tensor(y_train), torch.tensor(y_test), int(y.max()) + 1
        loss_fn = torch.nn.functional.cross_entropy
    else:
        mean, std = y_train.mean(), y_train.std()
        y_train, y_test = (torch.tensor((v - mean) / std, dtype=torch.float32)[:, None] for v in (y_train, y_test))
        outputs, loss_fn = 1, torch.nn.functional.mse_loss
    torch.manual_seed(TRAIN_SEED)
    model = KAN(KANConfig((x.shape[1], 8, outputs), grid_size=10, spline_order=3, grid_range=(-1.0, 1.0)))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(TRAIN_STEPS):
        optimizer.zero_grad()
        loss_fn(model(x_train), y_train).backward()
        optimizer.step()

    def evaluate(module: torch.nn.Module) -> float:
        with torch.no_grad():
            predicted = module(x_test)
        if classify:
            return float((predicted.argmax(1) == y_test).float().mean())
        return float(1 - ((predicted - y_test) ** 2).sum() / ((y_test - y_test.mean()) ** 2).sum())  # R^2

    return model.eval(), evaluate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--detection-metric", action="store_true",
                        help="also measure teacher agreement of the detection heads (minutes per head)")
    parser.add_argument("--out", default=str(FOLDERS.models_dir / "universal_codebook.safetensors"))
    args = parser.parse_args()
    torch.set_num_threads(1)  # same bits on any machine
    start = time.time()
    models, metrics = {}, {}
    for name, path in SHIPPED.items():
        loaded = read_model(path)
        models[name] = loaded.model
        task = "digits" if name.startswith("digits") else "detection"
        files = FOLDERS.detector_files.for_model(loaded.metadata)  # the location adapter the head names
        if task == "digits" or (args.detection_metric and name == "kan_head"):
            metrics[name] = task_metric(task, files=files).evaluate
        if args.detection_metric and name == "kan_head_coco_extra":  # measured against its own teacher reference
            metrics[name] = task_metric(task, files=files.for_labels(COCO_EXTRA)).evaluate
    for name in (*TRAINED_SOURCES, HELD_OUT):
        models[name], metrics[name] = train_small_kan(name)
    sources = [name for name in models if name != HELD_OUT]
    codebook = fit_universal_codebook([models[name] for name in sources], size=args.size)
    file_bytes = save_universal_codebook(codebook, args.out, [{"name": n, "edges": models[n].num_edges} for n in sources])
    print(f"codebook {codebook.shape} Int{codebook.bits}: {file_bytes:,} bytes ({time.time() - start:.0f} s)", flush=True)
    rows = {}
    for name, model in models.items():
        rows[name] = universal_cost(model, codebook, 8, metrics.get(name)) | {"in_codebook_sources": name in sources}
        print(name, json.dumps(rows[name]), flush=True)
    document = {"codebook": Path(args.out).name, "codebook_bytes": file_bytes, "size": int(codebook.shape[0]),
                "width": int(codebook.shape[1]), "bits": codebook.bits, "sources": sources, "held_out": HELD_OUT,
                "train_steps": TRAIN_STEPS, "seconds": round(time.time() - start, 1), "models": rows,
                "comparison": "own codebook: the model's k-means codebook of the same size (capped at its edges), one "
                              "for all layers, Int8; universal: assignment to the shared codebook only"}
    out = FOLDERS.assets_dir / "universal" / "universal_codebook.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(out, (json.dumps(document, indent=1) + "\n").encode())
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
