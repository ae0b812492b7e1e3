"""Train one small STD model with picnn.train.fit; run plainly or under torchrun.
Usage: python tests/ddp_fit.py OUT.pt   |   torchrun --nproc_per_node 2 tests/ddp_fit.py OUT.pt"""

import os, sys
import torch
from picnn.pathway import PathwayClassifier
from picnn.runs import TrainConfig
from picnn.train import fit

torch.set_num_threads(1)
torch.manual_seed(0)
# No BatchNorm: per-rank batch statistics would differ from the global batch's (SyncBatchNorm needs a GPU).
backbone = torch.nn.Sequential(
    torch.nn.Conv2d(1, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(16, 16, 3, padding=1), torch.nn.ReLU()
)
model = PathwayClassifier(backbone, 16, 10, 16, method="std")
cfg = TrainConfig(
    arch="tiny_cnn",
    dataset="digits",
    method="std",
    epochs=2,
    batch_size=64,
    augment=None,
    device="cpu",
    channels_last=False,
    eval_draws=1,
    mis_method="fast",
)
res = fit(cfg, model=model)
if int(os.environ.get("RANK", "0")) == 0:
    torch.save(
        {"state": res.model.state_dict(), "metrics": {k: v for k, v in res.metrics["test"].items()}}, sys.argv[1]
    )
