"The fast MIS estimator equals scikit-learn's on a large random case and on the features of a trained model."

import numpy as np
import pytest
import torch
from torch import nn
from sklearn.datasets import load_digits

from picnn.metrics import mis_ceiling, mutual_information_matrix, mutual_information_score

TOL = 1e-6  # the brief's bound; measured differences are about 1e-14


def test_fast_matches_sklearn_large_random():
    rng = np.random.default_rng(0)
    n, k, c = 2000, 16, 10
    y = rng.integers(0, c, n)
    X = rng.normal(size=(n, k)) + 0.5 * rng.normal(size=(c, k))[y] + 2.0 * (y[:, None] == np.arange(k) % c)
    X[:, 3] = np.round(X[:, 3], 1)  # a filter with many tied values
    X[:, 5] = rng.standard_t(1.5, size=n)  # heavy tails, no class signal
    a = mutual_information_matrix(X, y, "sklearn")
    b = mutual_information_matrix(X, y, "fast")
    assert a.shape == b.shape == (c, k)
    assert np.abs(a - b).max() < TOL


def test_fast_matches_sklearn_float32_torch_inputs():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 10, 1000)
    X = (rng.normal(size=(1000, 8)) + (y[:, None] == np.arange(8))).astype(np.float32)  # a model's usual dtype
    a = mutual_information_matrix(X, y, "sklearn")
    b = mutual_information_matrix(torch.from_numpy(X), torch.from_numpy(y), "fast")
    assert np.abs(a - b).max() < TOL


class TinyNet(nn.Module):
    "Small backbone -> late conv (K filters, pre-activation features) -> global average pool -> linear, as in spec section 2."

    def __init__(self, k: int = 20, classes: int = 10, width: int = 16):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1), nn.ReLU(), nn.Conv2d(width, width, 3, stride=2, padding=1), nn.ReLU()
        )
        self.late = nn.Conv2d(width, k, 3, padding=1)
        self.head = nn.Linear(k, classes)

    def features(self, x):  # F: (B, K, H, W), the late conv's pre-activation
        return self.late(self.body(x))

    def forward(self, x):
        return self.head(self.features(x).mean((2, 3)))


def digits_split(seed: int = 0):
    d = load_digits()
    x = torch.tensor(d.images, dtype=torch.float32).unsqueeze(1) / 16.0
    y = torch.tensor(d.target)
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    return (x[perm[:1300]], y[perm[:1300]]), (x[perm[1300:]], y[perm[1300:]])


def train(model, x, y, steps: int = 300, batch: int = 128, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(steps):
        i = torch.randint(len(y), (batch,), generator=g)
        loss = nn.functional.cross_entropy(model(x[i]), y[i])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model


@pytest.fixture(scope="module")
def digits_features():
    "Spatial sums of the late conv's pre-activation on the held-out digits, before and after a short training."
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny ops: on a shared CPU, thread hand-offs cost more than they give
    try:
        torch.manual_seed(0)
        (xtr, ytr), (xte, yte) = digits_split()
        model = TinyNet()
        with torch.no_grad():
            untrained = model.features(xte).sum((2, 3))
        train(model, xtr, ytr)
        with torch.no_grad():
            acc = (model(xte).argmax(1) == yte).float().mean().item()
            trained = model.features(xte).sum((2, 3))
    finally:
        torch.set_num_threads(threads)
    return {"untrained": untrained, "trained": trained, "labels": yte, "accuracy": acc}


def test_trained_model_trains(digits_features):
    assert digits_features["accuracy"] > 0.85  # the features below are those of a model that works


@pytest.mark.parametrize("which", ["untrained", "trained"])
def test_fast_matches_sklearn_on_model_features(digits_features, which):
    F, y = digits_features[which], digits_features["labels"]
    a = mutual_information_score(F, y, "sklearn", num_classes=10)
    b = mutual_information_score(F, y, "fast", num_classes=10)
    assert np.abs(a.matrix - b.matrix).max() < TOL
    assert abs(a.mis - b.mis) < TOL and abs(a.normalized - b.normalized) < TOL
    assert 0 < b.mis <= b.ceiling + 0.01 and b.ceiling == mis_ceiling(10)


def test_training_makes_filters_more_class_specific(digits_features):
    y = digits_features["labels"]
    before = mutual_information_score(digits_features["untrained"], y, "fast", num_classes=10)
    after = mutual_information_score(digits_features["trained"], y, "fast", num_classes=10)
    assert after.mis > 1.5 * before.mis  # measured: about 0.07 -> 0.18 nats


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_fast_on_cuda_matches_sklearn():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 10, 3000)
    X = rng.normal(size=(3000, 32)) + (y[:, None] == np.arange(32) % 10)
    a = mutual_information_matrix(X, y, "sklearn")
    b = mutual_information_matrix(X, y, "fast", device="cuda")
    assert np.abs(a - b).max() < TOL
