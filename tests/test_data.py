"""picnn.sources and picnn.datasets beyond the notebook: the real CIFAR-10/100 from the shared WebP containers (counts and the
README's decode checksums), the WebP container and torchvision paths on generated fixtures, and download failure."""

import hashlib, io, os, pickle, time, warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import picnn.datasets as data
import picnn.sources as sources
from picnn.loader import DeviceLoader
from picnn.config import data_dirs

# sha256 of the decoded uint8 (N, 32, 32, 3) arrays, from shared/data/README.md
CHECKSUMS = {
    ("cifar10", "train"): "2dba581d3106b6c485b1f15d95896ab42fad54d842c9574c9dc6e5a95ab0b5a9",
    ("cifar10", "test"): "efd76af1e8edc824b105ea5f90b55439965c677f5d17cc44647cf9d57d342e78",
    ("cifar100", "train"): "153f11460e5ef3af64552f0fcd8ed3ddaa8fb45b42b17c7db3e5760be49650b9",
    ("cifar100", "test"): "df92b15303aed1827fe245a1f9f765c3823038fc2a4fabdb03a5a79c3ebdfe44",
}
CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def sha_hwc(split) -> str:
    "The README's checksum is over HWC arrays; ours are NCHW."
    return hashlib.sha256(split.x.permute(0, 2, 3, 1).contiguous().numpy().tobytes()).hexdigest()


@pytest.fixture(scope="session")
def cifar(shared_data, tmp_path_factory):
    """CIFAR-10 and CIFAR-100 decoded once from the shared containers into a temporary data directory (nothing is
    written into the repo), then loaded through `load_dataset`."""
    out = tmp_path_factory.mktemp("picnn_data")
    old = os.environ.get("PICNN_DATA")
    os.environ["PICNN_DATA"] = str(out)
    try:
        via_search = any(Path(d).resolve() == shared_data.resolve() for d in data_dirs())
        root = None
        if not via_search:  # settings.ini does not list the shared folder: decode explicitly, load from `out`
            for name in ("cifar10", "cifar100"):
                sources.decode_webp_container(shared_data / f"{name}.npz", out / f"{name}.npz")
            root = out
        data.clear_cache()
        t0 = time.perf_counter()
        splits = {
            (n, s): data.load_dataset(n, root=root, split=s) for n in ("cifar10", "cifar100") for s in ("train", "test")
        }
        seconds = time.perf_counter() - t0
    finally:
        if old is None:
            os.environ.pop("PICNN_DATA", None)
        else:
            os.environ["PICNN_DATA"] = old
    return dict(dir=out, splits=splits, seconds=seconds)


@pytest.mark.parametrize("split,n", [("train", 50_000), ("test", 10_000)])
def test_cifar10_counts_and_checksums(cifar, split, n):
    s = cifar["splits"]["cifar10", split]
    assert s.x.shape == (n, 3, 32, 32) and s.x.dtype == torch.uint8 and s.y.dtype == torch.int64
    assert s.classes == CIFAR10_CLASSES and s.name == "cifar10"
    assert s.class_counts().tolist() == [n // 10] * 10
    assert sha_hwc(s) == CHECKSUMS["cifar10", split]
    assert "official split" in s.note and "1135 images (941 train, 194 test)" in s.note


@pytest.mark.parametrize("split,n", [("train", 50_000), ("test", 10_000)])
def test_cifar100_counts_and_checksums(cifar, split, n):
    s = cifar["splits"]["cifar100", split]
    assert s.x.shape == (n, 3, 32, 32) and len(s.classes) == 100 and s.classes[:3] == ["apple", "aquarium_fish", "baby"]
    assert s.class_counts().tolist() == [n // 100] * 100
    assert sha_hwc(s) == CHECKSUMS["cifar100", split]
    assert "non-official split" in s.note


def test_cache_written_once_and_reread(cifar):
    "The decoded cache is one package-format .npz per dataset in the writable dir; read back it gives the same pixels."
    for name in ("cifar10", "cifar100"):
        path = cifar["dir"] / f"{name}.npz"
        assert path.is_file() and data._npz_kind(path) == "package"
    assert not [p for p in cifar["dir"].iterdir() if p.name.endswith(".tmp")]
    with np.load(cifar["dir"] / "cifar10.npz") as d:
        assert int((~d["lossless_train"]).sum()) == 941 and d["x_test"].shape == (10_000, 3, 32, 32)
    data.clear_cache()
    again = data.load_dataset("cifar10", root=cifar["dir"], split="test")
    assert sha_hwc(again) == CHECKSUMS["cifar10", "test"] and again.note == cifar["splits"]["cifar10", "test"].note
    t0 = time.perf_counter()
    data.load_dataset("cifar10", root=cifar["dir"], split="test")
    assert time.perf_counter() - t0 < 0.5, "the second call comes from the in-process cache"


def channel_stats(x: torch.Tensor, chunk: int = 5000):
    "Per-channel mean and std in [0, 1] of a uint8 (N, C, H, W) tensor, in chunks (no full float copy)."
    s = s2 = 0
    for i in range(0, len(x), chunk):
        c = x[i : i + chunk].float() / 255
        s, s2 = s + c.sum((0, 2, 3)).double(), s2 + (c * c).sum((0, 2, 3)).double()
    n = x.shape[0] * x.shape[2] * x.shape[3]
    return s / n, (s2 / n - (s / n) ** 2).sqrt()


def test_normalization_matches_the_data(cifar):
    "The published statistics are those of the training images (the shared CIFAR-100's train split matches too)."
    for name in ("cifar10", "cifar100"):
        mean, std = channel_stats(cifar["splits"][name, "train"].x)
        assert torch.allclose(mean.float(), torch.tensor(data.normalization(name)[0]), atol=1e-3)
        assert torch.allclose(std.float(), torch.tensor(data.normalization(name)[1]), atol=1e-3)


def test_device_loader_on_cifar(cifar):
    train = cifar["splits"]["cifar10", "train"].subset(2000)
    assert train.class_counts().tolist() == [200] * 10
    xs = torch.cat([x for x, _ in DeviceLoader(train, batch_size=500, train=False)])  # normalised: mean 0, std 1
    assert (
        xs.shape == (2000, 3, 32, 32)
        and xs.mean((0, 2, 3)).abs().max() < 0.05
        and (xs.std((0, 2, 3)) - 1).abs().max() < 0.05
    )
    xa, ya = next(iter(DeviceLoader(train, batch_size=250, augment="crop_flip")))
    assert xa.shape == (250, 3, 32, 32) and len(set(ya.tolist())) == 10
    val_part, val = data.train_val_split(train, 0.1)
    assert val.class_counts().tolist() == [20] * 10 and len(val_part) == 1800


# ---- the WebP container format on a generated container (no shared data needed)


def make_container(path, n_train=12, n_test=6, classes=("a", "b", "c"), seed=0):
    "A container in the shared format (lossless WebP per image, offsets, labels, classes) and its true pixels (HWC)."
    rng = np.random.default_rng(seed)
    arrays, pixels = {"classes": np.array(classes)}, {}
    for split, n in (("train", n_train), ("test", n_test)):
        x = rng.integers(0, 256, (n, 8, 8, 3), dtype=np.uint8)
        blobs = []
        for img in x:
            buf = io.BytesIO()
            Image.fromarray(img).save(buf, format="WEBP", lossless=True)
            blobs.append(buf.getvalue())
        arrays[f"webp_{split}"] = np.frombuffer(b"".join(blobs), np.uint8)
        arrays[f"offsets_{split}"] = np.concatenate([[0], np.cumsum([len(b) for b in blobs])]).astype(np.int64)
        arrays[f"y_{split}"] = (np.arange(n) % len(classes)).astype(np.uint8)
        pixels[split] = x
    np.savez(path, **arrays)
    return pixels


def test_webp_container_decodes_exactly(tmp_path, monkeypatch):
    monkeypatch.setenv("PICNN_DATA", str(tmp_path / "writable"))
    src = tmp_path / "shared"
    src.mkdir()
    pixels = make_container(src / "cifar100.npz")
    out = sources.decode_webp_container(src / "cifar100.npz", tmp_path / "decoded.npz")
    assert np.array_equal(out["x_train"], pixels["train"].transpose(0, 3, 1, 2)) and "non-official split" in str(
        out["note"]
    )
    # through load_dataset with root: the container in root would be overwritten by its cache, so it stays in memory
    data.clear_cache()
    before = (src / "cifar100.npz").read_bytes()
    with pytest.warns(UserWarning, match="overwrite the container"):
        s = data.load_dataset("cifar100", root=src, split="test")
    assert (src / "cifar100.npz").read_bytes() == before
    assert torch.equal(s.x, torch.from_numpy(pixels["test"]).permute(0, 3, 1, 2)) and s.classes == ["a", "b", "c"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no second decode, no second warning
        assert data.load_dataset("cifar100", root=src, split="train").x.shape == (12, 3, 8, 8)


def test_webp_container_bad_image_names_file_and_index(tmp_path):
    make_container(tmp_path / "cifar10.npz")
    with np.load(tmp_path / "cifar10.npz") as d:
        arrays = {k: d[k] for k in d.files}
    webp = arrays["webp_test"].copy()
    o = arrays["offsets_test"]
    webp[o[2] : o[3]] = 0  # image 2 of test: garbage
    arrays["webp_test"] = webp
    np.savez(tmp_path / "cifar10.npz", **arrays)
    with pytest.raises(sources.DatasetCorrupt, match=r"cifar10\.npz \(test\): image 2"):
        sources.decode_webp_container(tmp_path / "cifar10.npz")


# ---- torchvision sources on a generated folder, and download failure


def test_torchvision_cifar10_folder(tmp_path, monkeypatch):
    "A cifar-10-batches-py folder in torchvision's format (checksums patched for the fixture) becomes NCHW arrays."
    import torchvision.datasets.cifar as tvc

    monkeypatch.setattr(tvc, "check_integrity", lambda *a, **k: True)
    base = tmp_path / "cifar-10-batches-py"
    base.mkdir()
    rng = np.random.default_rng(0)
    rows = {}
    for f in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        rows[f] = rng.integers(0, 256, (4, 3072), dtype=np.uint8)  # rows are CHW-flattened, as in the real files
        with open(base / f, "wb") as fh:
            pickle.dump({"data": rows[f], "labels": [0, 1, 2, 9]}, fh)
    with open(base / "batches.meta", "wb") as fh:
        pickle.dump({"label_names": CIFAR10_CLASSES}, fh)
    tr, te = data.load_dataset("cifar10", root=tmp_path), data.load_dataset("cifar10", root=tmp_path, split="test")
    assert tr.x.shape == (20, 3, 32, 32) and te.x.shape == (4, 3, 32, 32) and tr.classes == CIFAR10_CLASSES
    assert np.array_equal(tr.x.flatten(1).numpy(), np.concatenate([rows[f"data_batch_{i}"] for i in range(1, 6)]))
    assert np.array_equal(te.x.flatten(1).numpy(), rows["test_batch"]) and te.y.tolist() == [0, 1, 2, 9]
    assert (tmp_path / "cifar10.npz").is_file()


def test_download_failure_is_fast_and_clear(tmp_path, monkeypatch):
    "With no server to answer (a closed local port), download=True fails at once with a message saying what to do."
    import torchvision.datasets as tvd

    monkeypatch.setattr(tvd.CIFAR10, "url", "http://127.0.0.1:9/cifar-10-python.tar.gz")
    t0 = time.perf_counter()
    with pytest.raises(data.DatasetNotFound, match="127.0.0.1:9") as e:
        data.load_dataset("cifar10", root=tmp_path, download=True)
    assert time.perf_counter() - t0 < sources.DOWNLOAD_TIMEOUT
    assert "extract it into" in str(e.value) and isinstance(e.value, FileNotFoundError)


def test_missing_torchvision_data_without_download(tmp_path):
    with pytest.raises(data.DatasetNotFound) as e:
        data.load_dataset("cifar10", root=tmp_path)
    msg = str(e.value)
    assert str(tmp_path) in msg and "download=True" in msg and "cifar-10-python.tar.gz" in msg and "cifar10.npz" in msg


def _image_folder(root, classes=("a", "b"), n=3):
    import numpy as np
    from PIL import Image

    for s in ("train", "test"):
        for c in classes:
            (root / s / c).mkdir(parents=True, exist_ok=True)
            for i in range(n):
                Image.fromarray(np.full((8, 8, 3), 40 * i, np.uint8)).save(root / s / c / f"{i}.png")


def test_an_empty_image_folder_class_is_an_error_naming_it(tmp_path, monkeypatch):
    "An ImageFolder class folder with no images used to become a 0-image class; now it is named as the error."
    from picnn.datasets import load_dataset, DatasetCorrupt
    import picnn.datasets as D

    monkeypatch.setenv("PICNN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PICNN_DATA", str(tmp_path / "data"))
    _image_folder(tmp_path / "pets")
    (tmp_path / "pets" / "train" / "empty").mkdir()
    D._MEMO.clear()
    with pytest.raises(DatasetCorrupt, match=r"train/empty hold no images"):
        load_dataset(f"imagefolder:{tmp_path / 'pets'}", split="train")


def test_a_decoded_image_folder_is_cached_and_an_edit_decodes_again(tmp_path, monkeypatch):
    """The decoded split is kept as an .npz in the user's cache folder, never the checkout's data folder (loading it again
    decodes nothing); a changed file is seen."""
    from picnn.datasets import load_dataset
    import picnn.datasets as D

    monkeypatch.setenv("PICNN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PICNN_DATA", str(tmp_path / "data"))
    _image_folder(tmp_path / "pets")
    name = f"imagefolder:{tmp_path / 'pets'}"
    first = load_dataset(name, split="train")
    assert len(list((tmp_path / "cache" / "imagefolder").glob("imagefolder-pets-train-*.npz"))) == 1
    assert not list(tmp_path.glob("data/**/*.npz"))  # nothing decoded is written where the data is read
    D._MEMO.clear()
    monkeypatch.setattr(D, "decode_files", lambda *a, **k: (_ for _ in ()).throw(AssertionError("decoded again")))
    again = load_dataset(name, split="train")
    assert (again.x == first.x).all() and again.classes == first.classes
    monkeypatch.undo()
    monkeypatch.setenv("PICNN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PICNN_DATA", str(tmp_path / "data"))
    import numpy as np
    from PIL import Image

    Image.fromarray(np.full((8, 8, 3), 255, np.uint8)).save(tmp_path / "pets" / "train" / "a" / "0.png")
    D._MEMO.clear()
    assert not (load_dataset(name, split="train").x == first.x).all()


# ---- STL-10's binary release, read without torchvision's checksums


def write_stl10(folder, images: dict, labels: dict, class_names=True):
    "An stl10_binary folder as STL-10 ships it: per split, images (N, 3, 96, 96) stored column by column, labels 1..10."
    folder.mkdir(parents=True, exist_ok=True)
    for split, x in images.items():
        np.ascontiguousarray(x.transpose(0, 1, 3, 2)).tofile(folder / f"{split}_X.bin")
        np.asarray(labels[split], np.uint8).tofile(folder / f"{split}_y.bin")
    if class_names:
        (folder / "class_names.txt").write_text("\n".join(sources.STL10_CLASSES) + "\n")


def test_stl10_binary_folder_reads_as_torchvision_does(tmp_path, monkeypatch):
    """Only the labelled files (no unlabeled_X.bin, whose checksum torchvision demands): read directly, the arrays equal
    torchvision's own reading of the same files (its checksum check switched off for the fixture), then cached."""
    rng = np.random.default_rng(0)
    images = {
        "train": rng.integers(0, 256, (5, 3, 96, 96), dtype=np.uint8),
        "test": rng.integers(0, 256, (3, 3, 96, 96), dtype=np.uint8),
    }
    labels = {"train": [1, 2, 10, 3, 1], "test": [10, 5, 1]}
    write_stl10(tmp_path / "stl10_binary", images, labels)
    tr, te = data.load_dataset("stl10", root=tmp_path), data.load_dataset("stl10", root=tmp_path, split="test")
    assert torch.equal(tr.x, torch.from_numpy(images["train"])) and torch.equal(te.x, torch.from_numpy(images["test"]))
    assert tr.y.tolist() == [0, 1, 9, 2, 0] and te.y.tolist() == [9, 4, 0] and tr.classes == list(sources.STL10_CLASSES)
    assert "official labelled split (5 train, 3 test)" in tr.note and (tmp_path / "stl10.npz").is_file()
    import torchvision.datasets as tvd

    monkeypatch.setattr(tvd.STL10, "_check_integrity", lambda self: True)
    for split, ours in (("train", tr), ("test", te)):
        theirs = tvd.STL10(str(tmp_path), split=split)
        assert np.array_equal(theirs.data, ours.x.numpy()) and theirs.labels.tolist() == ours.y.tolist()
        assert theirs.classes == ours.classes


@pytest.mark.parametrize(
    "damage, said",
    [
        ("truncate", r"train_X\.bin holds 1 images of 27648 bytes and 100 bytes more, train_y\.bin 2 labels"),
        ("labels", r"test_y\.bin: labels span 0\.\.10, STL-10's are 1\.\.10"),
        ("missing", r"has no test_y\.bin"),
    ],
)
def test_stl10_damaged_file_is_corrupt_naming_it(tmp_path, damage, said):
    folder = tmp_path / "stl10_binary"
    x = np.zeros((2, 3, 96, 96), np.uint8)
    write_stl10(
        folder,
        {"train": x, "test": x},
        {"train": [1, 2], "test": [0, 10] if damage == "labels" else [1, 2]},
        class_names=False,
    )
    if damage == "truncate":
        with open(folder / "train_X.bin", "r+b") as f:
            f.truncate(27648 + 100)
    if damage == "missing":
        (folder / "test_y.bin").unlink()
    with pytest.raises(data.DatasetCorrupt, match=said) as e:
        data.load_dataset("stl10", root=tmp_path)
    assert "extract stl10_binary.tar.gz again" in str(e.value) and not (tmp_path / "stl10.npz").exists()


def test_a_truncated_image_folder_cache_is_named_and_rebuilt(tmp_path, monkeypatch):
    "A cache cut short (a killed or full-disk write) used to raise BadZipFile without its name; now it warns and decodes again."
    from picnn.datasets import load_dataset
    import picnn.datasets as D

    monkeypatch.setenv("PICNN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PICNN_DATA", str(tmp_path / "data"))
    _image_folder(tmp_path / "pets")
    name = f"imagefolder:{tmp_path / 'pets'}"
    first = load_dataset(name, split="train")
    (cache,) = (tmp_path / "cache" / "imagefolder").glob("imagefolder-pets-train-*.npz")
    cache.write_bytes(cache.read_bytes()[:100])
    D._MEMO.clear()
    with pytest.warns(UserWarning, match=rf"cache {cache} cannot be read .*decoded again"):
        again = load_dataset(name, split="train")
    assert (again.x == first.x).all() and again.classes == first.classes
    D._MEMO.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # the rebuilt cache reads cleanly
        assert (load_dataset(name, split="train").x == first.x).all()
