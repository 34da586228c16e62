"""The optimizers drive real nnkit layers exactly as torch.optim drives the same torch model."""

import numpy as np
import pytest

from nnkit import optim
from nnkit.layers import Linear, ReLU, Sequential, SoftmaxCrossEntropy

CASES = [
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5)),
    ("Adam", dict(lr=0.01, weight_decay=0.01, amsgrad=True)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1)),
]


def torch_twin(torch, model):
    """A torch MLP holding the nnkit model's weights (nn.Linear stores W transposed)."""
    layers = [m for m in model.layers if isinstance(m, Linear)]
    twin = torch.nn.Sequential(
        torch.nn.Linear(layers[0].in_features, layers[0].out_features), torch.nn.ReLU(),
        torch.nn.Linear(layers[1].in_features, layers[1].out_features),
    )
    with torch.no_grad():
        for ours, theirs in zip(layers, (twin[0], twin[2])):
            theirs.weight.copy_(torch.tensor(ours.params["W"].T))
            theirs.bias.copy_(torch.tensor(ours.params["b"]))
    return twin


@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=[c[0] for c in CASES])
def test_training_an_mlp_follows_torch_step_for_step(torch, name, kwargs):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(16, 5)), rng.integers(0, 3, size=16)
    model = Sequential(Linear(5, 7, seed=1), ReLU(), Linear(7, 3, seed=2))
    loss_layer = SoftmaxCrossEntropy()
    twin = torch_twin(torch, model)
    opt = getattr(optim, name)(model, **kwargs)
    decayed = [p for n, p in twin.named_parameters() if n.endswith("weight")]
    biases = [p for n, p in twin.named_parameters() if n.endswith("bias")]
    twin_opt = getattr(torch.optim, name)([{"params": decayed}, {"params": biases, "weight_decay": 0.0}], **kwargs)
    Xt, yt = torch.tensor(X), torch.tensor(y)
    for _ in range(15):
        loss = loss_layer.forward(model.forward(X), y)
        model.backward(loss_layer.backward())
        opt.step()
        twin_opt.zero_grad()
        twin_loss = torch.nn.functional.cross_entropy(twin(Xt), yt)
        twin_loss.backward()
        twin_opt.step()
        assert loss == pytest.approx(twin_loss.item(), rel=1e-12)
    ours = [layer.params for layer in model.layers if isinstance(layer, Linear)]
    for params, theirs in zip(ours, (twin[0], twin[2])):
        np.testing.assert_allclose(params["W"], theirs.weight.detach().numpy().T, rtol=1e-11, atol=1e-13)
        np.testing.assert_allclose(params["b"], theirs.bias.detach().numpy(), rtol=1e-11, atol=1e-13)
