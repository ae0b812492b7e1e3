"""The standard torch input pipeline, the baseline of `benchmarks.loader`: an `ImageSplit` as a map-style dataset of
PIL images through torchvision transforms, loaded by `DataLoader` worker processes. `official_transforms` is the
released recipe as PIL pipelines (resize 256, random crop 224, flip, colour jitter; test: resize 256, centre crop 224),
scaled to `image_size`. picnn itself trains with `picnn.loader.DeviceLoader`; this path is measured against it."""

from __future__ import annotations

import torch
from PIL import Image

from picnn.datasets import IMAGENET_MEAN, IMAGENET_STD, ImageSplit
from picnn.loader import AUGMENTS, JITTER, _epoch_seed, _stats_for


class SplitDataset(torch.utils.data.Dataset):
    "An `ImageSplit` as a map-style dataset of (transform(PIL image), label)."

    def __init__(self, split: ImageSplit, transform=None):
        self.x, self.y, self.transform = split.x.cpu().numpy(), split.y.cpu().numpy(), transform

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        a = self.x[i]
        img = Image.fromarray(a[0]) if a.shape[0] == 1 else Image.fromarray(a.transpose(1, 2, 0))
        return (self.transform(img) if self.transform is not None else img), int(self.y[i])


def official_transforms(train: bool, image_size: int = 224, mean=IMAGENET_MEAN, std=IMAGENET_STD):
    "The released recipe as a torchvision PIL pipeline: resize round(256/224*size), random crop, flip, jitter (train) or centre crop (test)."
    import torchvision.transforms as T

    resize = round(image_size * 256 / 224)
    if train:
        geo = [T.Resize(resize), T.RandomCrop(image_size), T.RandomHorizontalFlip(), T.ColorJitter(*JITTER)]
    else:
        geo = [T.Resize(resize), T.CenterCrop(image_size)]
    return T.Compose([*geo, T.ToTensor(), T.Normalize(mean, std)])


def split_transforms(
    split: ImageSplit,
    train: bool,
    augment: str | None = "crop_flip",
    image_size: int | None = None,
    mean=None,
    std=None,
):
    "The PIL pipeline equivalent to `DeviceLoader(split, train=train, augment=augment, image_size=image_size)`."
    import torchvision.transforms as T

    if augment not in AUGMENTS:
        raise ValueError(f"augment must be one of {AUGMENTS}, got {augment!r}")
    mean, std = _stats_for(split, mean, std)
    size = int(image_size) if image_size else min(split.image_shape[1:])
    if augment == "official":
        return official_transforms(train, size, mean, std)
    steps = [T.Resize((size, size))] if size != split.image_shape[1] or size != split.image_shape[2] else []
    if train and augment == "crop_flip":
        steps += [T.RandomCrop(size, padding=size // 8), T.RandomHorizontalFlip()]
    return T.Compose([*steps, T.ToTensor(), T.Normalize(mean, std)])


def make_dataloader(
    split: ImageSplit,
    batch_size: int = 128,
    train: bool = True,
    augment: str | None = "crop_flip",
    image_size: int | None = None,
    num_workers: int = 2,
    seed: int = 0,
    rank: int = 0,
    world_size: int = 1,
    drop_last: bool | None = None,
    pin_memory: bool = False,
    mean=None,
    std=None,
) -> torch.utils.data.DataLoader:
    "The standard torch DataLoader over `split` with PIL transforms and `num_workers` worker processes (DistributedSampler when world_size > 1)."
    ds = SplitDataset(split, split_transforms(split, train, augment, image_size, mean, std))
    drop_last = train if drop_last is None else drop_last
    gen = torch.Generator().manual_seed(_epoch_seed(seed, 0))
    sampler = None
    if world_size > 1:
        sampler = torch.utils.data.DistributedSampler(
            ds, num_replicas=world_size, rank=rank, shuffle=train, seed=seed, drop_last=drop_last
        )
    return torch.utils.data.DataLoader(
        ds,
        batch_size=batch_size,
        shuffle=train and sampler is None,
        sampler=sampler,
        num_workers=num_workers,
        drop_last=drop_last,
        pin_memory=pin_memory,
        generator=gen,
        persistent_workers=num_workers > 0,
    )
