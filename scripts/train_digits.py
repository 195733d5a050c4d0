"""Train the digits KAN [64, 32, 10] on scikit-learn's bundled digits and write it with a model card.

Usage: python scripts/train_digits.py [--epochs 300] [--out sample_models/digits_kan.safetensors]
"""
from __future__ import annotations

import argparse
import json
import time

import torch

from sharekan_core.tasks import digits_accuracy, load_digits_split
from sharekan_core.io import save_model
from sharekan_core.model import KAN, KANConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="sample_models/digits_kan.safetensors")
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(2)
    split = load_digits_split()
    x, y = torch.from_numpy(split.x_train), torch.from_numpy(split.y_train)
    model = KAN(KANConfig((64, 32, 10), grid_size=10, spline_order=3, grid_range=(-1.0, 1.0)))
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, args.epochs)
    start = time.time()
    for epoch in range(args.epochs):
        order = torch.randperm(len(x))
        for batch in order.split(128):
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x[batch]), y[batch])
            loss.backward()
            optimizer.step()
        schedule.step()
        if epoch % 50 == 0 or epoch == args.epochs - 1:
            print(f"epoch {epoch:4d} loss {loss.item():.4f}", flush=True)
    seconds = time.time() - start
    model.eval()
    metrics = digits_accuracy(model, split)
    with torch.no_grad():
        train_acc = float((model(x).argmax(1) == y).float().mean())
    metadata = {"task": "digits", "name": "digits KAN [64, 32, 10]", "classes": list(range(10)),
                "input": "8x8 digit pixels (0..16) scaled to [-1, 1], row-major", "train_seed": args.seed,
                "epochs": args.epochs, "test_accuracy": metrics["accuracy"], "train_accuracy": train_acc}
    save_model(model, args.out, metadata)
    print(json.dumps({**metrics, "train_accuracy": train_acc, "train_seconds": round(seconds, 1),
                      "edges": model.num_edges, "out": args.out}))


if __name__ == "__main__":
    main()
