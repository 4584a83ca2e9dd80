"""Convolutional lottery runs end to end, on small synthetic CIFAR-shaped data.

No CIFAR files are needed: `cifar.cifar_splits` is replaced by a function returning a
few hundred random images whose class is written into their pixels, so a network can
learn them (the real data are used by the reproduction scripts, never by the tests).
"""
import json

import numpy as np
import pytest

import hyperprune as hp
from hyperprune import lottery, optim, prune
from hyperprune.datasets import Splits, cifar
from hyperprune.models.encodings import encode_rgb_gray
from hyperprune.lottery import LotteryConfig, LotteryRun
from hyperprune.models import conv2


def synthetic_splits(n_train=512, n_val=128, n_test=128, seed=0):
    rng = np.random.default_rng(seed)

    def make(n):
        y = rng.integers(0, 10, n)
        x = rng.standard_normal((n, 3, 32, 32)).astype(np.float32) * 0.5
        x[np.arange(n), y % 3, (y * 3) % 32, :] += 3.0  # a class-dependent bright row
        return x, y.astype(np.int64)

    train, val, test = make(n_train), make(n_val), make(n_test)
    return Splits(train=train, val=val, test=test,
                             train_indices=np.arange(n_train), val_indices=np.arange(n_val),
                             name="cifar10", source="synthetic", description="synthetic",
                             classes=None)


@pytest.fixture
def fake_cifar(monkeypatch):
    def fake(name="cifar10", data_dir=None, validation=5000, seed=0, train_subset=None, **kw):
        splits = synthetic_splits()
        if train_subset:
            x, y = splits.train
            splits = Splits(**{**splits.__dict__, "train": (x[:train_subset],
                                                                        y[:train_subset])})
        return splits
    monkeypatch.setattr(cifar, "cifar_splits", fake)


@pytest.mark.parametrize("algebra", ["real", "quaternion"])
def test_reduced_width_conv2_fits_a_512_image_slice(algebra):
    """Training loss falls by at least half on 512 images (Adam, batch 64)."""
    hp.manual_seed(0)
    splits = synthetic_splits()
    x, y = splits.train
    if algebra == "quaternion":
        x = encode_rgb_gray(x)
    model = conv2(algebra, width=0.125)
    opt = optim.Adam(model.parameters(), lr=2e-3)
    losses = []
    for epoch in range(3):
        for i in range(0, 512, 64):
            loss = lottery.train_step(model, opt, None, x[i:i + 64], y[i:i + 64])
            losses.append(loss.item())
    assert np.mean(losses[-4:]) < 0.5 * np.mean(losses[:2]), losses


def test_conv_lottery_run_with_encoding_augmentation_and_resume(fake_cifar, tmp_path,
                                                                 monkeypatch):
    config = LotteryConfig(model="conv2", algebra="quaternion", width=0.125, levels=1,
                           iterations=12, eval_every=6, checkpoint_every=5, batch_size=32,
                           validation=128, augment=True, strategy="global",
                           granularity="quaternion", lr=1e-3)
    full = tmp_path / "full"
    summaries = LotteryRun(config, full, quiet=True).run()
    assert [s["level"] for s in summaries] == [0, 1]
    assert summaries[1]["pm"] < 1.0 and summaries[0]["pm_of_real"] < 0.3
    mask = prune.Masks.load(full / "masks" / "level_01.npz")
    conv_mask = mask["2"]                       # the second (quaternion) convolution
    assert (conv_mask == conv_mask[0]).all()    # whole quaternions pruned together

    real_step, calls = lottery.train_step, [0]

    def dying_step(*args):
        calls[0] += 1
        if calls[0] == 9:
            raise KeyboardInterrupt
        return real_step(*args)

    monkeypatch.setattr(lottery, "train_step", dying_step)
    with pytest.raises(KeyboardInterrupt):
        LotteryRun(config, tmp_path / "resumed", quiet=True).run()
    monkeypatch.setattr(lottery, "train_step", real_step)
    LotteryRun(config, tmp_path / "resumed", quiet=True).run()
    for k in (0, 1):
        a = json.loads((full / "levels" / f"level_0{k}.json").read_text())
        b = json.loads((tmp_path / "resumed" / "levels" / f"level_0{k}.json").read_text())
        a["summary"].pop("seconds"), b["summary"].pop("seconds")
        assert a == b


def test_model_and_dataset_mismatch_is_refused(tmp_path):
    with pytest.raises(ValueError, match="lenet_300_100 is an MNIST model"):
        LotteryRun(LotteryConfig(dataset="cifar10"), tmp_path, quiet=True).run()
