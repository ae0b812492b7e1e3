"""Write a stratified subset of a WebP-container dataset (the format of shared/data/cifar10.npz) small enough
to travel with the code to a GPU machine (the device tool sends at most 64 MiB).

    python -m benchmarks.make_subset SRC.npz DST.npz --train 20000 --test 5000
"""

import argparse, os
from pathlib import Path
import numpy as np


def stratified(y: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    "n indices with the class proportions of y, seeded, in ascending order."
    rng = np.random.default_rng(seed)
    classes = np.unique(y)
    per = {c: int(round(n * (y == c).mean())) for c in classes}
    idx = np.concatenate([rng.permutation(np.flatnonzero(y == c))[: per[c]] for c in classes])
    return np.sort(idx)


def subset_container(src, dst, n_train: int, n_test: int, seed: int = 0) -> dict:
    d = np.load(src)
    out = {
        "classes": d["classes"],
        "note": np.array(
            f"stratified {n_train}/{n_test} subset (seed {seed}) of {Path(src).name}'s train/test split, "
            f"made by benchmarks/make_subset.py"
        ),
    }
    for split, n in (("train", n_train), ("test", n_test)):
        buf, off, y = d[f"webp_{split}"], d[f"offsets_{split}"], d[f"y_{split}"]
        idx = stratified(y, n, seed) if n < len(y) else np.arange(len(y))
        pieces = [buf[off[i] : off[i + 1]] for i in idx]
        lengths = np.array([len(p) for p in pieces], dtype=np.int64)
        out[f"webp_{split}"] = np.concatenate(pieces)
        out[f"offsets_{split}"] = np.concatenate([[0], np.cumsum(lengths)])
        out[f"y_{split}"] = y[idx]
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(dst.stem + ".tmp.npz")
    np.savez(tmp, **out)
    os.replace(tmp, dst)
    return {s: len(out[f"y_{s}"]) for s in ("train", "test")}


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("src")
    p.add_argument("dst")
    p.add_argument("--train", type=int, default=20000)
    p.add_argument("--test", type=int, default=5000)
    a = p.parse_args()
    sizes = subset_container(a.src, a.dst, a.train, a.test)
    print(f"wrote {a.dst}: {sizes}, {Path(a.dst).stat().st_size / 2**20:.1f} MiB")
