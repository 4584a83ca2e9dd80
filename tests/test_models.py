"""Model families: shapes and the parameter counts of the papers."""
import numpy as np
import pytest

import hyperprune as hp
from hyperprune import nn, prune
from hyperprune.models import conv2, conv4, conv6, get_model, lenet_300_100


def weights(model):
    return sum(layer.weight.size for layer in prune.prunable_layers(model).values())


def test_lenet_counts():
    assert weights(lenet_300_100("real")) == 266_200
    assert weights(lenet_300_100("quaternion")) == 67_300


@pytest.mark.parametrize("build,real,quaternion,quaternion_real_first", [
    (conv2, 4_300_992, 1_077_312, 1_078_464),
    (conv4, 2_425_024, 608_320, 609_472),
    (conv6, 2_261_184, 567_360, 568_512)])
def test_conv_counts_match_the_papers(build, real, quaternion, quaternion_real_first):
    """Frankle & Carbin: 4.30M / 2.43M / 2.26M; Iqbal & Mishra: about 1.08M / 609K / 569K.
    Their quaternion counts are matched exactly by a real first convolution on RGB; with a
    quaternion first convolution on 4 input channels the counts are 0.1-0.3% lower."""
    assert weights(build("real")) == real
    assert weights(build("quaternion")) == quaternion
    assert weights(build("quaternion", first_layer="real")) == quaternion_real_first


@pytest.mark.parametrize("name", ["conv2", "conv4", "conv6"])
@pytest.mark.parametrize("algebra", ["real", "quaternion"])
def test_conv_forward_shapes_at_reduced_width(name, algebra):
    model = get_model(name, algebra, width=0.125)
    x = hp.tensor(np.zeros((2, 4 if algebra == "quaternion" else 3, 32, 32), np.float32))
    assert model(x).shape == (2, 10)


def test_conv_options():
    model = conv2("quaternion", width=0.25, fully_quaternion=True)
    assert isinstance(model[-1], nn.QLinear) and model[-1].out_features == 12
    assert conv2("real", num_classes=100)[-1].out_features == 100
    assert isinstance(conv2("real", width=0.25)[0], nn.Conv2d)
    with pytest.raises(ValueError, match="first_layer"):
        conv2("real", first_layer="quaternion")
    with pytest.raises(ValueError, match="unknown model 'conv8'"):
        get_model("conv8")


def test_conv_rate_applies_to_convolutions():
    model = conv4("real", width=0.25)
    rates = prune.layerwise_rates(model, rate=0.2, output_rate=0.1, conv_rate=0.1)
    kinds = [(getattr(layer, "is_convolution", False), rates[name])
             for name, layer in prune.prunable_layers(model).items()]
    assert [r for conv, r in kinds if conv] == [0.1] * 4
    assert [r for conv, r in kinds if not conv] == [0.2, 0.2, 0.1]
