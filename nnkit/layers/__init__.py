"""Layers: the seeds' "layered view" of a network.

Each layer has ``params`` and ``grads`` (dicts of arrays), ``forward(x)`` and
``backward(dout) -> dx``, and PyTorch's ``train()``/``eval()`` with a
``training`` flag, ``named_parameters()`` and ``state_dict()`` (see
:mod:`nnkit.layers.base`). ``dout`` is always dL/d(output) of the layer it is
handed to; ``dx``, ``dW``, ``db`` are the gradients a layer returns or stores.
"""

from nnkit.layers.activation import (
    CELU,
    ELU,
    GELU,
    Activation,
    Hardswish,
    Heaviside,
    Identity,
    LeakyReLU,
    LogSoftmax,
    Mish,
    ReLU,
    ReLU6,
    Sigmoid,
    Sign,
    Softmax,
    Softplus,
    Tanh,
)
from nnkit.layers.base import Layer
from nnkit.layers.batchnorm import BatchNorm1d, BatchNorm2d, batchnorm_backward, batchnorm_forward
from nnkit.layers.conv import Conv2d
from nnkit.layers.dense import Linear
from nnkit.layers.dropout2d import SpatialDropout2d
from nnkit.layers.loss import SoftmaxCrossEntropy
from nnkit.layers.pool import AvgPool2d, MaxPool2d
from nnkit.layers.regularize import Dropout, GaussianNoise, mc_predict
from nnkit.layers.sequential import Sequential
from nnkit.layers.shape import Flatten

__all__ = [
    "Layer",
    "Linear",
    "Sequential",
    "Activation",
    "Identity",
    "Heaviside",
    "Sign",
    "Sigmoid",
    "Tanh",
    "ReLU",
    "ReLU6",
    "LeakyReLU",
    "ELU",
    "CELU",
    "GELU",
    "Softplus",
    "Hardswish",
    "Mish",
    "Softmax",
    "LogSoftmax",
    "Dropout",
    "GaussianNoise",
    "mc_predict",
    "BatchNorm1d",
    "BatchNorm2d",
    "batchnorm_forward",
    "batchnorm_backward",
    "SoftmaxCrossEntropy",
    "Conv2d",
    "MaxPool2d",
    "AvgPool2d",
    "Flatten",
    "SpatialDropout2d",
]
