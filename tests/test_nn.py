"""cnnlab.nn: the layers, Sequential, the loss, initialisation.

Tier 2: every layer gives exactly what its op in cnnlab.ops / cnnlab.grads
gives. Tier 3: every layer, and a whole conv -> relu -> pool -> flatten ->
dense -> cross-entropy network, against central differences in float64, plus a
negative test showing that the check catches a wrong gradient. Training them
(SGD, fit, predict, saving) is tested in test_train.py.
"""

import math
import re

import numpy as np
import pytest
from networks import digits_cnn, distinct, small_net
from numpy.testing import assert_allclose, assert_array_equal
from threadpoolctl import threadpool_limits

from cnnlab import grads, nn, ops, train
from cnnlab.grads import numerical_gradient, rel_error
from cnnlab.nn import (
    DEFAULT_SEED,
    SGD,
    AvgPool2d,
    Conv2d,
    CrossEntropyLoss,
    Dense,
    Flatten,
    Layer,
    MaxPool2d,
    Parameter,
    ReLU,
    Sequential,
)

TOLERANCE = 1e-7  # the rel_error a correct float64 gradient of one layer must reach
# Through five layers and a cross-entropy, the smallest gradient entries (~1e-6)
# sit at the rounding limit of central differences (~1e-11 absolute error), so
# over 20 seeds the worst entry reaches 1.6e-6 with the step 1e-5 and 6e-7 with
# 1e-4: 1e-6 at step 1e-4 is what a correct network reaches whatever the seed.
NETWORK_TOLERANCE, NETWORK_STEP = 1e-6, 1e-4
F64 = np.float64


@pytest.fixture(autouse=True, scope="module")
def one_blas_thread():
    """One BLAS thread per test worker: the matrices here are tiny, and two workers each
    running two OpenBLAS threads on two cores made training up to 5 times slower."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield


# ------------------------------------------------------------------ layers = their ops


def layer_cases():
    """(layer, input shape, what the forward op gives, what the backward op gives)."""
    conv = Conv2d(2, 4, (3, 2), stride=(2, 1), padding=(1, 0), rng=1, dtype=F64)
    dense = Dense(6, 3, rng=2, dtype=F64)
    w, b = conv.weight.value, conv.bias.value
    return [
        pytest.param(
            conv,
            (3, 2, 7, 5),
            lambda x: ops.conv2d(x, w, b, (2, 1), (1, 0)),
            lambda d, x: grads.conv2d_backward(d, x, w, (2, 1), (1, 0))[0],
            id="Conv2d",
        ),
        pytest.param(
            dense,
            (3, 6),
            lambda x: ops.dense(x, dense.weight.value, dense.bias.value),
            lambda d, x: grads.dense_backward(d, x, dense.weight.value)[0],
            id="Dense",
        ),
        pytest.param(ReLU(), (3, 2, 7, 5), ops.relu, grads.relu_backward, id="ReLU"),
        pytest.param(
            MaxPool2d(2),
            (3, 2, 7, 5),
            ops.max_pool2d,
            grads.max_pool2d_backward,
            id="MaxPool2d",
        ),
        pytest.param(
            AvgPool2d((3, 2), stride=(2, 1)),
            (3, 2, 7, 5),
            lambda x: ops.avg_pool2d(x, (3, 2), (2, 1)),
            lambda d, x: grads.avg_pool2d_backward(d, x, (3, 2), (2, 1)),
            id="AvgPool2d",
        ),
        pytest.param(
            Flatten(), (3, 2, 7, 5), ops.flatten, lambda d, x: d.reshape(x.shape), id="Flatten"
        ),
    ]


@pytest.mark.parametrize(("layer", "shape", "forward", "backward"), layer_cases())
def test_a_layer_gives_what_its_ops_give(layer, shape, forward, backward):
    """Forward and backward are the ops themselves, and the shapes match output_shape."""
    rng = np.random.default_rng(0)
    x = distinct(rng, shape)
    out = layer(x)
    assert_array_equal(out, forward(x))
    assert out.shape[1:] == layer.output_shape(shape[1:])
    dout = rng.standard_normal(out.shape)
    dx = layer.backward(dout)
    assert dx.shape == x.shape
    assert_array_equal(dx, backward(dout, x))


def test_a_layer_does_not_modify_its_input():
    rng = np.random.default_rng(1)
    x = distinct(rng, (2, 2, 7, 5))
    before = x.copy()
    model = small_net()
    out = model(x)
    model.backward(np.ones_like(out))
    assert_array_equal(x, before)


def test_max_pool_backward_is_unchanged_by_a_later_in_place_change():
    """MaxPool2d keeps its output for the backward pass; a later layer (here, by hand)
    changing that output in place must not change where the gradient goes."""
    rng = np.random.default_rng(2)
    x = distinct(rng, (2, 3, 7, 5))
    pool = MaxPool2d((3, 2), stride=(2, 1))
    out = pool(x)
    out[...] = out.max() + 1  # would make every input a loser
    dout = rng.standard_normal(out.shape)
    assert_array_equal(pool.backward(dout), grads.max_pool2d_backward(dout, x, (3, 2), (2, 1)))


@pytest.mark.parametrize(
    ("layer", "input_shape", "output_shape"),
    [
        (Conv2d(3, 8, 3), (3, 10, 9), (8, 8, 7)),
        (Conv2d(3, 8, (3, 2), stride=2, padding=(1, 0)), (3, 10, 9), (8, 5, 4)),
        (MaxPool2d(2), (4, 7, 5), (4, 3, 2)),
        (AvgPool2d(3, stride=1), (4, 7, 5), (4, 5, 3)),
        (ReLU(), (4, 7, 5), (4, 7, 5)),
        (Flatten(), (4, 7, 5), (140,)),
        (Dense(140, 10), (140,), (10,)),
    ],
)
def test_output_shape_without_the_batch_axis(layer, input_shape, output_shape):
    assert layer.output_shape(input_shape) == output_shape
    x = np.zeros((2, *input_shape), dtype=np.float32)
    assert layer(x).shape == (2, *output_shape)


# ------------------------------------------------------------------- gradient checks


def loss_of(model, x, labels):
    return ops.cross_entropy(model(x), labels)


def with_value(param, model, x, labels):
    """The loss as a function of one parameter's value, the others fixed."""

    def f(value):
        saved = param.value
        param.value = value
        try:
            return loss_of(model, x, labels)
        finally:
            param.value = saved

    return f


def network_errors(model, x, labels, h=NETWORK_STEP):
    """rel_error of every backpropagated gradient against central differences."""
    loss_fn = CrossEntropyLoss()
    loss_fn(model(x), labels)
    model.zero_grad()
    dx = model.backward(loss_fn.backward())
    numeric = numerical_gradient(lambda v: loss_of(model, v, labels), x, h=h)
    errors = {"x": rel_error(dx, numeric)}
    for name, p in model.named_parameters():
        numeric = numerical_gradient(with_value(p, model, x, labels), p.value, h=h)
        errors[name] = rel_error(p.grad, numeric)
    return errors


def test_whole_network_gradient_check():
    """conv -> relu -> pool -> flatten -> dense -> cross-entropy, every parameter and the input."""
    rng = np.random.default_rng(2)
    model = small_net(seed=3)
    for p in model.parameters():  # non-zero biases, so a forgotten bias gradient shows
        p.value += 0.1 * rng.standard_normal(p.shape)
    x = distinct(rng, (3, 2, 7, 5))
    labels = np.array([0, 3, 1])
    errors = network_errors(model, x, labels)
    assert set(errors) == {"x", "0.weight", "0.bias", "4.weight", "4.bias"}
    assert max(errors.values()) < NETWORK_TOLERANCE, errors


@pytest.mark.parametrize(("layer", "shape", "forward", "backward"), layer_cases())
def test_each_layer_gradient_check(layer, shape, forward, backward):
    """d/dx and d/dparameters of sum(layer(x) * dout), for a fixed random dout."""
    rng = np.random.default_rng(4)
    x = distinct(rng, shape)
    for p in layer.parameters():
        p.value += 0.1 * rng.standard_normal(p.shape)
    dout = rng.standard_normal(layer(x).shape)
    layer.zero_grad()
    dx = layer.backward(dout)
    assert rel_error(dx, numerical_gradient(lambda v: np.sum(layer(v) * dout), x)) < TOLERANCE
    for p in layer.parameters():

        def f(value, p=p):
            saved, p.value = p.value, value
            try:
                return np.sum(layer(x) * dout)
            finally:
                p.value = saved

        assert rel_error(p.grad, numerical_gradient(f, p.value)) < TOLERANCE


class _LeakyBackwardReLU(ReLU):
    """A ReLU whose backward lets 1 % of the gradient through where x < 0: a plausible bug."""

    def backward(self, dout):
        x = self._remembered()
        return np.where(x > 0, dout, 0.01 * dout)


def test_the_network_gradient_check_catches_a_wrong_backward():
    rng = np.random.default_rng(2)
    model = small_net(seed=3)
    model.layers[1] = _LeakyBackwardReLU()
    x = distinct(rng, (3, 2, 7, 5))
    errors = network_errors(model, x, np.array([0, 3, 1]))
    assert errors["0.weight"] > 1e-3
    assert errors["4.weight"] < NETWORK_TOLERANCE  # layers after the bug are still right


@pytest.mark.parametrize(
    "torch_layers",
    ["conv-relu-maxpool-flatten-dense", "conv-relu-avgpool-flatten-dense"],
)
def test_same_gradients_as_pytorch(torch_layers):
    """The whole network against PyTorch in float64 (skipped without torch)."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    model = small_net(seed=6)
    pool = torch.nn.MaxPool2d(2)
    if "avgpool" in torch_layers:
        model.layers[2] = AvgPool2d(2)
        pool = torch.nn.AvgPool2d(2)
    conv, dense = model[0], model[4]
    reference = torch.nn.Sequential(
        torch.nn.Conv2d(2, 3, (3, 2), padding=(1, 0)),
        torch.nn.ReLU(),
        pool,
        torch.nn.Flatten(),
        torch.nn.Linear(18, 4),
    ).double()
    with torch.no_grad():
        reference[0].weight.copy_(torch.from_numpy(conv.weight.value))
        reference[0].bias.copy_(torch.from_numpy(rng.standard_normal(3)))
        reference[4].weight.copy_(torch.from_numpy(dense.weight.value.T))
        reference[4].bias.copy_(torch.from_numpy(rng.standard_normal(4)))
    conv.bias.value[...] = reference[0].bias.detach().numpy()
    dense.bias.value[...] = reference[4].bias.detach().numpy()
    x = distinct(rng, (3, 2, 7, 5))
    labels = np.array([2, 0, 3])

    loss_fn = CrossEntropyLoss()
    loss = loss_fn(model(x), labels)
    dx = model.backward(loss_fn.backward())
    tx = torch.tensor(x, requires_grad=True)
    tloss = torch.nn.functional.cross_entropy(reference(tx), torch.from_numpy(labels))
    tloss.backward()
    assert loss == pytest.approx(tloss.item(), rel=1e-12)
    assert_allclose(dx, tx.grad.numpy(), rtol=1e-10, atol=1e-14)
    assert_allclose(conv.weight.grad, reference[0].weight.grad.numpy(), rtol=1e-10)
    assert_allclose(conv.bias.grad, reference[0].bias.grad.numpy(), rtol=1e-10)
    assert_allclose(dense.weight.grad, reference[4].weight.grad.numpy().T, rtol=1e-10)
    assert_allclose(dense.bias.grad, reference[4].bias.grad.numpy(), rtol=1e-10)


# ------------------------------------------------------------- gradients accumulate


def test_gradients_accumulate_until_zero_grad():
    rng = np.random.default_rng(7)
    model = small_net()
    x = distinct(rng, (2, 2, 7, 5))
    dout = rng.standard_normal((2, 4))
    model(x)
    model.backward(dout)
    once = [p.grad.copy() for p in model.parameters()]
    assert all(np.any(g != 0) for g in once)
    model.backward(dout)
    for p, g in zip(model.parameters(), once, strict=True):
        assert_allclose(p.grad, 2 * g, rtol=1e-12)
    model.zero_grad()
    assert all(not np.any(p.grad) for p in model.parameters())


def test_the_optimizer_zero_grad_clears_every_parameter():
    model = small_net()
    for p in model.parameters():
        p.grad += 1.0
    SGD(model.parameters(), lr=0.1).zero_grad()
    assert all(not np.any(p.grad) for p in model.parameters())


def test_backward_before_forward_says_so():
    with pytest.raises(RuntimeError, match=r"Dense\(3, 2\): backward was called before forward"):
        Dense(3, 2).backward(np.zeros((1, 2)))
    with pytest.raises(RuntimeError, match="CrossEntropyLoss: backward was called before"):
        CrossEntropyLoss().backward()


def test_cross_entropy_loss_is_the_op_and_its_gradient():
    rng = np.random.default_rng(8)
    logits, labels = rng.standard_normal((5, 3)), np.array([0, 2, 1, 1, 0])
    loss_fn = CrossEntropyLoss()
    assert loss_fn(logits, labels) == ops.cross_entropy(logits, labels)
    assert_array_equal(loss_fn.backward(), grads.cross_entropy_backward(logits, labels))


# ------------------------------------------------------------------------ initialisation


def test_he_initialisation_std_and_zero_bias():
    conv = Conv2d(64, 128, 3, rng=0)
    dense = Dense(500, 400, rng=0)
    assert conv.weight.value.std() == pytest.approx(math.sqrt(2 / (64 * 9)), rel=0.02)
    assert dense.weight.value.std() == pytest.approx(math.sqrt(2 / 500), rel=0.02)
    assert abs(conv.weight.value.mean()) < 0.01 * conv.weight.value.std() * 10
    assert not np.any(conv.bias.value) and not np.any(dense.bias.value)
    assert conv.weight.shape == (128, 64, 3, 3) and dense.weight.shape == (500, 400)
    assert conv.weight.value.dtype == np.float32 and dense.bias.value.dtype == np.float32


def test_seeded_initialisation_is_reproducible():
    assert_array_equal(Conv2d(2, 4, 3, rng=5).weight.value, Conv2d(2, 4, 3, rng=5).weight.value)
    assert not np.array_equal(
        Conv2d(2, 4, 3, rng=5).weight.value, Conv2d(2, 4, 3, rng=6).weight.value
    )
    # rng=None is the documented fixed seed, so a notebook gives the same weights every run
    assert_array_equal(Dense(4, 3).weight.value, Dense(4, 3, rng=DEFAULT_SEED).weight.value)
    # a shared Generator advances: two layers of one model get different weights
    shared = np.random.default_rng(0)
    first, second = Dense(4, 3, rng=shared), Dense(4, 3, rng=shared)
    assert not np.array_equal(first.weight.value, second.weight.value)
    # float64 and float32 models with the same seed hold the same weights, up to rounding
    assert_allclose(
        Dense(4, 3, rng=1, dtype=F64).weight.value, Dense(4, 3, rng=1).weight.value, rtol=1e-7
    )


# ------------------------------------------------------------------------ Sequential


def test_sequential_len_indexing_repr_and_summary():
    model = digits_cnn(np.random.default_rng(0))
    assert len(model) == 8
    assert isinstance(model[0], Conv2d) and isinstance(model[-1], Dense)
    features = model[:3]
    assert isinstance(features, Sequential) and features[0] is model[0]
    assert features(np.zeros((2, 1, 8, 8), np.float32)).shape == (2, 16, 4, 4)
    assert [name for name, _ in model.named_parameters()] == [
        "0.weight", "0.bias", "3.weight", "3.bias", "7.weight", "7.bias"
    ]  # fmt: skip
    assert repr(model).splitlines()[1] == "  (0): Conv2d(1, 16, kernel_size=3, padding=1)"
    summary = model.summary((1, 8, 8))
    assert summary.total_params == 16 * 9 + 16 + 32 * 16 * 9 + 32 + 128 * 10 + 10 == 6090
    text = str(summary)
    assert re.search(r"\(5\) MaxPool2d\(2\)\s+\(32, 2, 2\)\s+0", text)
    assert re.search(r"\(7\) Dense\(128, 10\)\s+\(10,\)\s+1,290", text)
    assert text.splitlines()[-1].split() == ["total", "6,090"]


def test_summary_names_the_layer_that_does_not_fit():
    model = Sequential(Conv2d(1, 4, 3), Flatten(), Dense(100, 10))
    with pytest.raises(ValueError, match=r"layer \(2\) Dense\(100, 10\).*set in_features=144"):
        model.summary((1, 8, 8))
    with pytest.raises(ValueError, match=r"layer \(0\) Conv2d.*needs inputs of shape \(1, H, W\)"):
        model.summary((3, 8, 8))
    with pytest.raises(TypeError, match="input_shape must be a tuple"):
        model.summary(8)


def test_sequential_forward_error_names_the_layer():
    model = small_net()
    with pytest.raises(ValueError, match=r"Sequential: layer \(0\) Conv2d.*x has 3 channels"):
        model(np.zeros((1, 3, 7, 5)))
    with pytest.raises(ValueError, match=r"layer \(4\) Dense.*x has 24 features"):
        model(np.zeros((1, 2, 9, 5)))


def test_sequential_rejects_what_is_not_a_layer():
    with pytest.raises(TypeError, match=r"Sequential\(\*layers\), not one list"):
        Sequential([ReLU(), Flatten()])
    with pytest.raises(TypeError, match=r"layer \(1\) must be a cnnlab.nn layer.*function"):
        Sequential(ReLU(), ops.relu)


# ------------------------------------------------------------------ argument checks


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: Conv2d(0, 4, 3), ValueError, "Conv2d: in_channels must be a positive int, got 0"),
        (lambda: Conv2d(1.5, 4, 3), TypeError, "Conv2d: in_channels must be a positive int"),
        (lambda: Conv2d(1, 4, (3, 0)), ValueError, "Conv2d: kernel_size must be a positive int"),
        (lambda: Conv2d(1, 4, 3, padding=-1), ValueError, "Conv2d: padding must be a non-neg"),
        (lambda: Conv2d(1, 4, 3, rng="seed"), TypeError, "Conv2d: rng must be None, an int seed"),
        (lambda: Conv2d(1, 4, 3, rng=-1), ValueError, "Conv2d: rng must be a non-negative int"),
        (lambda: Dense(4, 2, dtype=np.int32), ValueError, "Dense: dtype must be a float dtype"),
        (lambda: Dense(4, 0), ValueError, "Dense: out_features must be a positive int"),
        (lambda: MaxPool2d(0), ValueError, "MaxPool2d: kernel_size must be a positive int"),
        (lambda: AvgPool2d(2, stride=0), ValueError, "AvgPool2d: stride must be a positive int"),
    ],
)
def test_bad_arguments_get_a_clear_error(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_flatten_backward_checks_dout():
    layer = Flatten()
    layer(np.zeros((2, 3, 4, 5)))
    with pytest.raises(ValueError, match=r"Flatten.backward: dout must have shape \(2, 60\)"):
        layer.backward(np.zeros((2, 59)))


def test_a_custom_layer_plugs_in():
    """Subclassing Layer is all it takes to join a Sequential and be trained."""

    class Scale(Layer):
        def __init__(self):
            self.factor = Parameter(np.array([2.0]))

        def forward(self, x):
            self._input = x
            return x * self.factor.value

        def backward(self, dout):
            self.factor.grad += np.sum(dout * self._remembered(), keepdims=True).reshape(1)
            return dout * self.factor.value

        def named_parameters(self):
            return [("factor", self.factor)]

    model = Sequential(Flatten(), Scale(), Dense(4, 2, rng=0, dtype=F64))
    assert [n for n, _ in model.named_parameters()] == ["1.factor", "2.weight", "2.bias"]
    rng = np.random.default_rng(11)
    errors = network_errors(model, rng.standard_normal((3, 2, 2)), np.array([0, 1, 1]))
    assert max(errors.values()) < NETWORK_TOLERANCE


def test_the_training_utilities_are_reachable_from_nn():
    """Every lesson writes nn.fit, nn.SGD, ...: cnnlab.nn hands on cnnlab.train's names."""
    for name in train.__all__:
        assert getattr(nn, name) is getattr(train, name)
        assert name in nn.__all__ and name in dir(nn)
    with pytest.raises(AttributeError, match=r"module 'cnnlab\.nn' has no attribute 'fitt'"):
        nn.fitt  # noqa: B018
