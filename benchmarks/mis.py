"""MIS: picnn's fast estimator (torch, all filters at once) against scikit-learn's, on the same features.

    python -m benchmarks.mis [--device cpu] [--n 10000] [--k 64] [--classes 10] [--threads N] [--repeats 3]

Both compute the same estimator (scikit-learn's `mutual_info_classif`, one call per class, n_neighbors=3,
random_state=0); the table shows their times side by side, the speed-up and the largest absolute difference
between the two (C, K) MI matrices. The default size is a CIFAR-10 test set seen by a 64-filter late conv.
scikit-learn always runs on the CPU; `--device` moves only the fast estimator. `--threads` sets torch's
(and the BLAS/OpenMP pools') thread count for the measurement: on a shared, oversubscribed CPU one thread
is often faster than several.
"""

from __future__ import annotations
import argparse, os, platform, time
import numpy as np
import torch

from picnn.metrics import mutual_information_matrix


def synthetic_features(n: int, k: int, classes: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    "Float32 (n, k) features, half the filters class-specific and half entangled, and balanced labels in [0, classes)."
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(n) % classes)
    specific = 1.5 * (y[:, None] == np.arange(k) % classes)
    entangled = rng.normal(scale=0.8, size=(classes, k))[y]
    X = rng.normal(size=(n, k)) + np.where(np.arange(k) % 2 == 0, specific, entangled)
    return X.astype(np.float32), y


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def mis_speed(
    n: int = 10_000,
    k: int = 64,
    classes: int = 10,
    device: str = "cpu",
    repeats: int = 3,
    threads: int | None = None,
    seed: int = 0,
) -> dict:
    """Time the fast MIS estimator on `device` (best of `repeats` after a warm-up) and scikit-learn (once) on the same
    synthetic features; returns sizes, times, the speed-up, the largest |difference| of the MI matrices and both MIS."""
    X, y = synthetic_features(n, k, classes, seed)
    old_threads = torch.get_num_threads()
    limits = None
    if threads is not None:
        from threadpoolctl import threadpool_limits  # scikit-learn's own dependency

        torch.set_num_threads(threads)
        limits = threadpool_limits(threads)
    try:
        fast = lambda: mutual_information_matrix(X, y, "fast", classes, device=device)
        fast()  # warm-up: CUDA context, kernels, allocator
        fast_times = []
        for _ in range(repeats):
            M_fast, t = _timed(fast)
            fast_times.append(t)
        M_sk, t_sk = _timed(lambda: mutual_information_matrix(X, y, "sklearn", classes))
    finally:
        if threads is not None:
            torch.set_num_threads(old_threads)
            limits.unregister()
    t_fast = min(fast_times)
    return {
        "n": n,
        "k": k,
        "classes": classes,
        "device": str(device),
        "torch_threads": threads or old_threads,
        "sklearn_s": t_sk,
        "fast_s": t_fast,
        "fast_s_all": fast_times,
        "speedup": t_sk / t_fast,
        "max_abs_diff": float(np.abs(M_fast - M_sk).max()),
        "mis_sklearn": float(M_sk.max(0).mean()),
        "mis_fast": float(M_fast.max(0).mean()),
    }


def format_table(r: dict) -> str:
    dev = r["device"] + (f" ({torch.cuda.get_device_name(r['device'])})" if r["device"].startswith("cuda") else "")
    lines = [
        f"MIS of {r['n']:,} x {r['k']} features, {r['classes']} classes; fast on {dev}, torch threads {r['torch_threads']}, "
        f"{os.cpu_count()} CPUs, load average {', '.join(f'{v:.1f}' for v in os.getloadavg())}",
        f"  {'estimator':22s} {'time (s)':>10s} {'MIS (nats)':>12s}",
        f"  {'scikit-learn (CPU)':22s} {r['sklearn_s']:10.3f} {r['mis_sklearn']:12.6f}",
        f"  {'fast (torch)':22s} {r['fast_s']:10.3f} {r['mis_fast']:12.6f}",
        f"  speed-up {r['speedup']:.1f}x; largest |M_fast - M_sklearn| = {r['max_abs_diff']:.2e}",
    ]
    return "\n".join(lines)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu", help="where the fast estimator runs (cpu, cuda, cuda:1, ...)")
    p.add_argument("--n", type=int, default=10_000, help="samples (test images)")
    p.add_argument("--k", type=int, default=64, help="filters")
    p.add_argument("--classes", type=int, default=10)
    p.add_argument(
        "--threads", type=int, default=None, help="torch/BLAS threads during the measurement (default: as is)"
    )
    p.add_argument("--repeats", type=int, default=3, help="timed runs of the fast estimator (the best is reported)")
    args = p.parse_args(argv)
    r = mis_speed(args.n, args.k, args.classes, args.device, args.repeats, args.threads)
    print(format_table(r))
    print(f"  (torch {torch.__version__}, python {platform.python_version()})")
    return r


if __name__ == "__main__":
    main()
