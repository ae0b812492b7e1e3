"""picnn.models beyond the notebook: every registered architecture builds as STD and PICNN and trains one
step, the ImageNet stems at 64/224 px, pretrained weights from a (fake) local cache, the CAM libraries on the
models as they are, timm models of four families (the optional extra), and the clear, fast errors.
Sized for ~2-3 minutes on 2 shared cores."""

import os, subprocess, sys, time
from pathlib import Path

import pytest
import torch
import torch.nn as nn

from picnn.models import (
    ClusterTarget,
    architecture,
    build_model,
    checkpoint_path,
    cluster_cam,
    cluster_scores,
    cluster_targets,
    default_num_filters,
    list_models,
    register,
)
from picnn.pathway import picnn_loss, std_loss

ROOT = Path(__file__).resolve().parents[1]

TORCHVISION = [
    "alexnet",
    "vgg16_bn",
    "resnet18",
    "resnet50",
    "densenet121",
    "mobilenet_v2",
    "shufflenet_v2_x1_0",
    "efficientnet_b0",
    "googlenet",
    "vit_b_16",
]
CAM_LIBS = ("pytorch_grad_cam", "captum", "torchcam")


@pytest.fixture(autouse=True, scope="module")
def few_threads():
    """One intra-op thread by default (PICNN_TEST_THREADS to change): on 2 cores shared with other work, two
    threads spent ~10x the CPU time of one on these small batches (measured), waiting on each other."""
    before = torch.get_num_threads()
    torch.set_num_threads(int(os.environ.get("PICNN_TEST_THREADS", "1")))
    yield
    torch.set_num_threads(before)


def small_input(arch, batch=2):
    "A batch at the architecture's small size: 8x8 single-channel digits for tiny_cnn, 32x32 RGB otherwise."
    return torch.randn(batch, 1, 8, 8) if arch == "tiny_cnn" else torch.randn(batch, 3, 32, 32)


def all_positive_pathways(model, x, seed=0):
    """Both pathways, with the labels set to the classes the pathway sampled, so every image is a positive sample
    and L_int cannot be zero by chance (what `model.pathways(x, y)` gives for that y, without a second pass)."""
    out = model.pathways(x, None, torch.Generator().manual_seed(seed))
    y = out.cluster.clone()
    return out._replace(positive=out.cluster == y), y


def test_registry():
    assert list_models() == TORCHVISION + ["resnet20", "tiny_cnn"]
    assert [architecture(a).stems for a in ("resnet18", "resnet20")] == [("imagenet", "cifar"), ("cifar",)]
    assert architecture("ResNet18").name == "resnet18"


def test_default_num_filters():
    assert [default_num_filters(c) for c in (2, 10, 32, 33, 100, 200)] == [64, 64, 64, 128, 256, 448]
    assert (
        build_model("resnet20", 100).num_filters == 256
        and build_model("resnet20", 10, num_filters=16).num_filters == 16
    )


@pytest.mark.parametrize("method", ["picnn", "std"])
@pytest.mark.parametrize("arch", list_models())
def test_builds_trains_and_is_deterministic(arch, method):
    C, B = 3, 1 if arch == "vit_b_16" else 2  # the ViT (no BatchNorm) is the heaviest: one image
    torch.manual_seed(0)
    model = build_model(arch, C, method=method, stem="cifar")
    x = small_input(arch, B)
    assert model.method == method and model.arch == arch and model.num_filters == 64
    assert isinstance(model.late_conv, nn.Conv2d) and model.late_conv.kernel_size == (3, 3)

    # shapes: plain logits and both pathways
    out, y = all_positive_pathways(model, x)
    assert out.logits.shape == out.cluster_logits.shape == (B, C)
    assert out.complement_logits is None  # a diagnostic: skipped while training, computed in eval mode
    model.eval()
    assert model.pathways(x, torch.zeros(B, dtype=torch.long)).complement_logits.shape == (B, C)
    model.train()
    assert out.pooled.shape == out.mask.shape == (B, 64) and out.positive.shape == out.cluster.shape == (B,)
    assert out.positive.all()  # the labels were chosen so; L_int is not zero by chance

    # one Adam step: every backbone parameter moves; theta moves with PICNN's loss and stays with CE alone
    backbone0 = [p.detach().clone() for p in model.backbone.parameters()]
    theta0 = model.correspondence.theta.detach().clone()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss = picnn_loss(out, y).total if method == "picnn" else std_loss(out.logits, y)
    loss.backward()
    opt.step()
    unchanged = [n for (n, p), p0 in zip(model.backbone.named_parameters(), backbone0) if torch.equal(p, p0)]
    assert not unchanged, f"backbone parameters that did not move: {unchanged[:5]}"
    assert torch.equal(model.correspondence.theta, theta0) == (method == "std")

    # eval mode: plain logits are deterministic (the same network for both methods: checked once)
    if method == "std":
        return
    model.eval()
    with torch.no_grad():
        z = model(x)
        assert z.shape == (B, C) and torch.equal(z, model(x))
        fmap = model.feature_maps(x)
    assert fmap.shape[:2] == (B, 64) and min(fmap.shape[-2:]) >= 4


@pytest.mark.parametrize(
    "arch,size,grid",
    [
        ("shufflenet_v2_x1_0", 224, 7),
        ("resnet18", 64, 2),
        ("mobilenet_v2", 64, 2),
        ("alexnet", 64, 1),
        ("googlenet", 64, 2),
        ("vit_b_16", 64, 4),
    ],
)
def test_imagenet_stem(arch, size, grid):
    model = build_model(arch, 10, stem="imagenet", image_size=size if arch == "vit_b_16" else None)
    x = torch.randn(2, 3, size, size)
    assert model.feature_maps(x).shape == (2, 64, grid, grid)
    model.eval()
    with torch.no_grad():
        assert model(x).shape == (2, 10)


def test_vit_default_sizes():
    with torch.device("meta"):
        assert build_model("vit_b_16", 10).backbone.image_size == 224
        small = build_model("vit_b_16", 10, stem="cifar")
    assert (small.backbone.image_size, small.backbone.patch_size, small.build_config["image_size"]) == (32, 4, 32)


def test_in_channels():
    model = build_model("resnet18", 10, stem="cifar", in_channels=1)
    assert model.backbone.conv1.in_channels == 1 and model(torch.randn(2, 1, 32, 32)).shape == (2, 10)
    assert build_model("tiny_cnn", 10).build_config["in_channels"] == 1
    assert build_model("tiny_cnn", 10, in_channels=3)(torch.randn(2, 3, 8, 8)).shape == (2, 10)


# ---------------------------------------------------------------- errors: clear and fast


def raises_fast(fn, exc, *words, limit=1.0):
    t = time.perf_counter()
    with pytest.raises(exc) as info:
        fn()
    assert time.perf_counter() - t < limit, "the error should come before anything large is built"
    for w in words:
        assert w in str(info.value), str(info.value)
    return str(info.value)


def test_unknown_architecture_lists_known():
    raises_fast(lambda: build_model("resnet34", 10), ValueError, "unknown architecture 'resnet34'", *list_models())


def test_fewer_filters_than_classes():
    raises_fast(lambda: build_model("vgg16_bn", 100, num_filters=64), ValueError, "K=64 < num_classes C=100")


def test_bad_stem_method_and_pretrained_small_nets():
    raises_fast(lambda: build_model("resnet20", 10, stem="imagenet"), ValueError, "'cifar'")
    raises_fast(lambda: build_model("resnet18", 10, stem="tiny"), ValueError, "'imagenet' or 'cifar'")
    raises_fast(lambda: build_model("resnet18", 10, method="icnn"), ValueError, "std, picnn, csg")
    for arch in ("resnet20", "tiny_cnn"):
        raises_fast(lambda: build_model(arch, 10, pretrained=True), ValueError, "no pretrained weights")


def test_vit_wrong_input_size():
    model = build_model("vit_b_16", 10, stem="cifar")
    with pytest.raises(ValueError, match="image_size=64"):
        model(torch.randn(1, 3, 64, 64))


@pytest.mark.parametrize("arch", TORCHVISION)
def test_pretrained_missing_offline(arch, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    from torchvision.models import get_model_weights

    url = get_model_weights(arch).DEFAULT.url
    expected = tmp_path / "hub" / "checkpoints" / url.rsplit("/", 1)[1]
    raises_fast(lambda: build_model(arch, 10, pretrained=True), FileNotFoundError, str(expected), url, "TORCH_HOME")


def test_unknown_weights_name(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    raises_fast(
        lambda: build_model("resnet50", 10, pretrained="IMAGENET9K"), ValueError, "IMAGENET1K_V1", "IMAGENET1K_V2"
    )


# ---------------------------------------------------------------- pretrained weights from the local cache


def fake_checkpoint(tmp_path, monkeypatch, arch, make):
    "Put a random state dict where torch hub caches `arch`'s DEFAULT weights; TORCH_HOME points there."
    from torchvision.models import get_model_weights

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    path = checkpoint_path(get_model_weights(arch).DEFAULT)
    path.parent.mkdir(parents=True)
    torch.manual_seed(123)
    state = make().state_dict()
    torch.save(state, path)
    return state


def test_pretrained_resnet18_from_cache(tmp_path, monkeypatch):
    from torchvision.models import resnet18

    state = fake_checkpoint(tmp_path, monkeypatch, "resnet18", resnet18)
    torch.manual_seed(0)
    imagenet = build_model("resnet18", 10, pretrained=True)
    for k in ("conv1.weight", "layer1.0.conv1.weight", "layer4.1.bn2.running_var"):
        assert torch.equal(imagenet.backbone.state_dict()[k], state[k]), k
    cifar = build_model("resnet18", 10, pretrained=True, stem="cifar")
    assert cifar.backbone.conv1.weight.shape == (64, 3, 3, 3)  # re-initialised: the 7x7 kernel does not fit
    assert torch.equal(cifar.backbone.layer4[0].conv1.weight, state["layer4.0.conv1.weight"])
    grey = build_model("resnet18", 10, pretrained=True, in_channels=1)
    assert grey.backbone.conv1.weight.shape == (64, 1, 7, 7) and torch.equal(
        grey.backbone.bn1.weight, state["bn1.weight"]
    )
    assert cifar.build_config["pretrained"] is True


def test_pretrained_stride_change_keeps_kernel(tmp_path, monkeypatch):
    from torchvision.models import mobilenet_v2

    state = fake_checkpoint(tmp_path, monkeypatch, "mobilenet_v2", mobilenet_v2)
    model = build_model("mobilenet_v2", 10, pretrained=True, stem="cifar")
    first = model.backbone[0][0]
    assert first.stride == (1, 1) and torch.equal(first.weight, state["features.0.0.weight"])
    assert model.feature_maps(torch.randn(2, 3, 32, 32)).shape[-2:] == (4, 4)


def test_pretrained_googlenet_transforms_input(tmp_path, monkeypatch):
    from torchvision.models import GoogLeNet

    state = fake_checkpoint(tmp_path, monkeypatch, "googlenet", lambda: GoogLeNet(aux_logits=True, init_weights=False))
    model = build_model("googlenet", 10, pretrained=True)
    assert "transform_input" in dict(model.backbone.named_children())
    assert "transform_input" not in dict(build_model("googlenet", 10).backbone.named_children())
    assert torch.equal(model.backbone.inception5b.branch1.conv.weight, state["inception5b.branch1.conv.weight"])


@pytest.mark.slow
def test_pretrained_vit_to_32px(tmp_path, monkeypatch):
    from torchvision.models import vit_b_16

    state = fake_checkpoint(tmp_path, monkeypatch, "vit_b_16", vit_b_16)
    model = build_model("vit_b_16", 10, pretrained=True, stem="cifar")
    vit = model.backbone
    assert torch.equal(vit.encoder.layers[11].mlp[0].weight, state["encoder.layers.encoder_layer_11.mlp.0.weight"])
    assert vit.encoder.pos_embedding.shape == (1, 65, 768) and vit.conv_proj.weight.shape == (768, 3, 4, 4)
    # the class token's position embedding is carried over unchanged, the grid's are resampled
    assert torch.equal(vit.encoder.pos_embedding[:, 0], state["encoder.pos_embedding"][:, 0])


# ---------------------------------------------------------------- the CAM libraries on the models as they are


@pytest.fixture(scope="module", params=["resnet20", "resnet18"])
def cam_model(request):
    "An untrained PICNN model with uneven clusters (as after training), in eval mode, and a batch for it."
    torch.manual_seed(0)
    model = build_model(request.param, 10, stem="cifar").eval()
    with torch.no_grad():
        model.correspondence.theta.normal_(0, 3)
    return model, torch.randn(2, 3, 32, 32), [3, 7]


def test_pytorch_grad_cam(cam_model):
    pgc = pytest.importorskip("pytorch_grad_cam")
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    model, x, classes = cam_model
    with pgc.GradCAM(model=model, target_layers=[model.late_conv]) as cam:
        plain = torch.from_numpy(cam(input_tensor=x, targets=[ClassifierOutputTarget(c) for c in classes]))
        by_row = torch.from_numpy(cam(input_tensor=x, targets=[ClusterTarget(model, c) for c in classes]))
        by_index = torch.from_numpy(cam(input_tensor=x, targets=cluster_targets(model, classes)))
        single = torch.from_numpy(cam(input_tensor=x[1:], targets=[ClusterTarget(model, classes[1])]))
    assert plain.shape == by_row.shape == (2, 32, 32)
    # Grad-CAM on a GAP + linear head is CAM; with ClusterTarget it is the class-cluster map
    torch.testing.assert_close(plain, cluster_cam(model, x, classes, filters="all"), atol=1e-4, rtol=0)
    torch.testing.assert_close(by_row, cluster_cam(model, x, classes), atol=1e-4, rtol=0)
    torch.testing.assert_close(by_index, by_row)
    torch.testing.assert_close(single[0], by_row[1], atol=1e-5, rtol=0)
    assert (plain - by_row).abs().max() > 0.05


def test_captum_layer_gradcam(cam_model):
    attr_mod = pytest.importorskip("captum.attr")
    model, x, classes = cam_model
    fmap = model.feature_maps(x)
    hw = fmap.shape[-2] * fmap.shape[-1]
    for forward, filters in ((model, "all"), (lambda t: cluster_scores(model, t), "cluster")):
        attr = attr_mod.LayerGradCam(forward, model.late_conv).attribute(x, target=classes)
        up = attr_mod.LayerAttribution.interpolate(attr, tuple(x.shape[-2:]), "bilinear")
        assert up.shape == (2, 1, 32, 32)
        raw = cluster_cam(model, x, classes, filters=filters, relu=False, normalize=False, upsample=False)
        torch.testing.assert_close(attr[:, 0], raw / hw, atol=1e-6, rtol=1e-4)


def test_torchcam(cam_model):
    methods = pytest.importorskip("torchcam.methods")
    import torch.nn.functional as F

    model, x, classes = cam_model
    with methods.GradCAM(model, target_layer=model.late_conv, input_shape=(3, 32, 32)) as extractor:
        targets = [ClusterTarget(model, c) for c in classes]
        by_cluster = extractor(targets=targets, scores=model(x))[0]
        by_class = extractor(class_idx=classes, scores=model(x))[0]
    h, w = model.feature_maps(x).shape[-2:]
    assert by_cluster.shape == by_class.shape == (2, h, w)
    torch.testing.assert_close(by_cluster, cluster_cam(model, x, classes, upsample=False), atol=1e-5, rtol=0)
    torch.testing.assert_close(
        by_class, cluster_cam(model, x, classes, filters="all", upsample=False), atol=1e-5, rtol=0
    )
    up = F.interpolate(by_cluster[:, None], size=x.shape[-2:], mode="bilinear", align_corners=False)
    assert up.shape == (2, 1, 32, 32)


def test_cluster_cam_and_scores(cam_model):
    model, x, classes = cam_model
    maps = cluster_cam(model, x, classes)
    assert maps.shape == (2, 32, 32) and maps.min() >= 0 and maps.max() <= 1
    # the cluster logit is the spatial mean of the un-rectified cluster map plus the bias
    raw = cluster_cam(model, x, classes, relu=False, normalize=False, upsample=False)
    with torch.no_grad():
        scores = cluster_scores(model, x)
    torch.testing.assert_close(scores[[0, 1], classes], raw.mean((1, 2)) + model.classifier.bias[classes])
    # one cluster per class, so summing the masked weights gives back the full head
    masks = model.correspondence.cluster_masks()
    assert torch.equal(masks.sum(0), torch.ones(model.num_filters))
    with pytest.raises(ValueError, match="'cluster' or 'all'"):
        cluster_cam(model, x, 0, filters="some")


def test_cluster_target_errors(cam_model):
    model, x, _ = cam_model
    with pytest.raises(ValueError, match="out of range"):
        ClusterTarget(model, 10)
    target = ClusterTarget(model, 1)
    with pytest.raises(RuntimeError, match="before running the model"):
        target(torch.zeros(10))
    z = model(x)
    with pytest.raises(ValueError, match="index=i"):
        target(z[1].clone())  # a copy: not a row of the batch output
    assert target(z).shape == (2,) and torch.equal(target(z[1]), target(z)[1])
    target.release()


def test_imports_without_cam_libraries():
    code = (
        "import sys\n"
        f"for m in {CAM_LIBS!r}: sys.modules[m] = None\n"
        "import picnn.models\n"
        f"assert not any(sys.modules.get(m) for m in {CAM_LIBS!r})\n"
    )
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


def test_imports_without_timm():
    "timm is imported only when a 'timm:' architecture is built."
    code = "import sys\nimport picnn.models, picnn.pathway\nassert 'timm' not in sys.modules, 'picnn.models imported timm'\n"
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


def test_registry_refuses_duplicates_and_colons():
    with pytest.raises(ValueError, match="already registered"):
        register("resnet18")(lambda stem, weights, image_size=None: None)
    with pytest.raises(ValueError, match="cannot contain ':'"):
        register("timm:mine")
    assert list_models() == TORCHVISION + ["resnet20", "tiny_cnn"]


# ---------------------------------------------------------------- timm models (the optional extra picnn[timm])

TIMM_FAMILIES = ["timm:resnet10t", "timm:efficientnet_b0", "timm:convnext_atto", "timm:vit_tiny_patch16_224"]


@pytest.fixture(scope="module")
def timm():
    "timm, imported once (its import is not counted by raises_fast), or skip: it is an optional extra."
    return pytest.importorskip("timm", reason="timm is the optional extra picnn[timm] (`make install` installs it)")


@pytest.mark.parametrize("arch", TIMM_FAMILIES)
def test_timm_trains_one_step_and_grad_cam(timm, arch):
    """A ResNet, an EfficientNet, a ConvNeXt and a ViT from timm (pretrained=False, CIFAR stem at 32 px): one Adam
    step with PICNN's loss moves every backbone parameter and theta; Grad-CAM on late_conv gives the class-cluster
    map at the input size; the model rebuilds from its build_config and loads its own state dict."""
    pgc = pytest.importorskip("pytorch_grad_cam")
    torch.manual_seed(0)
    model = build_model(arch, 3, stem="cifar", image_size=32)
    x, grid = torch.randn(2, 3, 32, 32), 8 if "vit" in arch else 4
    assert model.arch == model.build_config["arch"] == arch and isinstance(model.late_conv, nn.Conv2d)
    assert model.feature_maps(x).shape == (2, 64, grid, grid)

    backbone0 = [p.detach().clone() for p in model.backbone.parameters()]
    theta0 = model.correspondence.theta.detach().clone()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for step in range(2):
        out, y = all_positive_pathways(model, x, seed=step)
        opt.zero_grad()
        picnn_loss(out, y).total.backward()
        opt.step()
        if step == 0:  # every parameter is on the loss's graph (none left unused by forward_features) ...
            assert not [n for n, p in model.backbone.named_parameters() if p.grad is None]
            assert not torch.equal(model.correspondence.theta, theta0)
    # ... and after two steps every one has moved (timm zero-initialises each ResNet block's last BN scale, so the
    # block's other weights get their first non-zero gradient on the second step)
    unchanged = [n for (n, p), p0 in zip(model.backbone.named_parameters(), backbone0) if torch.equal(p, p0)]
    assert not unchanged, f"backbone parameters that did not move: {unchanged[:5]}"

    model.eval()
    classes = [0, 2]
    with pgc.GradCAM(model=model, target_layers=[model.late_conv]) as cam:
        maps = torch.from_numpy(cam(input_tensor=x, targets=[ClusterTarget(model, c) for c in classes]))
    assert maps.shape == (2, 32, 32) and maps.min() >= 0 and maps.max() <= 1
    torch.testing.assert_close(maps, cluster_cam(model, x, classes), atol=1e-4, rtol=0)

    again = build_model(**model.build_config)
    again.load_state_dict(model.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(again.eval()(x), model(x))


@pytest.mark.parametrize(
    "arch,size,grid", [("timm:resnet10t", 64, 2), ("timm:convnext_atto", 64, 2), ("timm:vit_tiny_patch16_224", 64, 4)]
)
def test_timm_imagenet_stem(timm, arch, size, grid):
    model = build_model(arch, 10, image_size=size)
    assert model.build_config["stem"] == "imagenet"
    assert model.feature_maps(torch.randn(1, 3, size, size)).shape == (1, 64, grid, grid)
    assert model.build_config["image_size"] == (size if "vit" in arch else None)


def test_timm_structure(timm):
    with torch.device("meta"):
        vit = build_model("timm:vit_tiny_patch16_224", 10)
        convnext = build_model("timm:convnext_atto", 10, stem="cifar")
        swin = build_model("timm:swin_tiny_patch4_window7_224", 10)
        assert swin.feature_maps(torch.zeros(1, 3, 224, 224)).shape == (1, 64, 7, 7)  # NHWC output, permuted
    assert (vit.backbone.image_size, vit.backbone.patch_size, vit.backbone.num_prefix_tokens) == (224, 16, 1)
    assert convnext.backbone.dropped == ("head",)  # its head norm follows pooling: forward_features never uses it
    grey = build_model("timm:resnet10t", 10, stem="cifar", in_channels=1)
    assert grey.build_config["in_channels"] == 1 and grey(torch.randn(2, 1, 32, 32)).shape == (2, 10)


def test_timm_errors(timm):
    raises_fast(lambda: build_model("timm:resnet7", 10), ValueError, "unknown timm model 'resnet7'")
    raises_fast(
        lambda: build_model("timm:mobilenetv3_small_050", 10, stem="cifar"),
        ValueError,
        "output_stride=8",
        "stem='imagenet'",
    )
    raises_fast(lambda: build_model("timm:resnet10t", 10, stem="tiny"), ValueError, "'imagenet' or 'cifar'")
    raises_fast(lambda: build_model("timm:resnet10t", 10, pretrained="nope"), ValueError, "c3_in1k")
    raises_fast(
        lambda: build_model("timm:vit_tiny_patch16_224", 10, stem="cifar", image_size=30), ValueError, "multiple of 4"
    )
    model = build_model("timm:vit_tiny_patch16_224", 10, stem="cifar")
    with pytest.raises(ValueError, match="image_size=64"):
        model(torch.randn(1, 3, 64, 64))


def test_timm_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "timm", None)  # as if not installed
    raises_fast(lambda: build_model("timm:resnet10t", 10), ImportError, "pip install 'picnn[timm]'")


def _no_hf_env(monkeypatch):
    for var in ("HF_HOME", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        monkeypatch.delenv(var, raising=False)


def test_timm_pretrained_missing_offline(timm, tmp_path, monkeypatch):
    _no_hf_env(monkeypatch)
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    folder = tmp_path / "hub" / "models--timm--convnext_atto.d2_in1k"
    msg = raises_fast(
        lambda: build_model("timm:convnext_atto", 10, pretrained=True),
        FileNotFoundError,
        "convnext_atto.d2_in1k",
        str(folder),
        "HF_HOME",
        "pretrained=False",
    )
    assert "\n" not in msg
    # HF_HUB_CACHE wins over HF_HOME, as in huggingface_hub
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "elsewhere"))
    raises_fast(
        lambda: build_model("timm:convnext_atto", 10, pretrained=True), FileNotFoundError, str(tmp_path / "elsewhere")
    )


def fake_hf_cache(tmp_path, monkeypatch, repo, state):
    "Lay `state` out as huggingface_hub caches `repo`'s model.safetensors, with HF_HUB_CACHE pointing there."
    from safetensors.torch import save_file

    _no_hf_env(monkeypatch)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    folder, commit = tmp_path / "hub" / f"models--{repo.replace('/', '--')}", "0123456789abcdef" * 2 + "01234567"
    (folder / "refs").mkdir(parents=True)
    (folder / "refs" / "main").write_text(commit)
    (folder / "snapshots" / commit).mkdir(parents=True)
    save_file({k: v.contiguous() for k, v in state.items()}, folder / "snapshots" / commit / "model.safetensors")


def test_timm_pretrained_from_cache(timm, tmp_path, monkeypatch):
    torch.manual_seed(123)
    state = timm.create_model("resnet10t").state_dict()
    fake_hf_cache(tmp_path, monkeypatch, "timm/resnet10t.c3_in1k", state)
    monkeypatch.setattr(
        timm.models._builder,
        "load_state_dict_from_hf",
        lambda *a, **k: pytest.fail("timm went to the hub: it should read the file it was given"),
    )
    model = build_model("timm:resnet10t", 10, pretrained=True)
    assert model.build_config["pretrained"] is True
    for k in ("conv1.0.weight", "layer4.0.conv2.weight", "layer4.0.bn2.running_var"):
        assert torch.equal(model.backbone.model.state_dict()[k], state[k]), k
    cifar = build_model("timm:resnet10t", 10, pretrained="c3_in1k", stem="cifar")  # output_stride=8 keeps every kernel
    assert torch.equal(cifar.backbone.model.layer4[0].conv2.weight, state["layer4.0.conv2.weight"])
    grey = build_model("timm:resnet10t", 10, pretrained=True, in_channels=1)  # timm sums the RGB kernels
    torch.testing.assert_close(grey.backbone.model.conv1[0].weight, state["conv1.0.weight"].sum(1, keepdim=True))


def test_timm_pretrained_vit_to_32px(timm, tmp_path, monkeypatch):
    torch.manual_seed(123)
    state = timm.create_model("vit_tiny_patch16_224").state_dict()
    fake_hf_cache(tmp_path, monkeypatch, "timm/vit_tiny_patch16_224.augreg_in21k_ft_in1k", state)
    vit = build_model("timm:vit_tiny_patch16_224", 10, pretrained=True, stem="cifar").backbone.model
    assert torch.equal(vit.blocks[11].mlp.fc1.weight, state["blocks.11.mlp.fc1.weight"])
    # resampled by timm
    assert vit.pos_embed.shape == (1, 65, 192) and vit.patch_embed.proj.weight.shape == (192, 3, 4, 4)
    assert torch.equal(vit.cls_token, state["cls_token"])
