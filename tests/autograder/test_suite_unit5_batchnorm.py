"""The unit 5 batch-norm item: full marks for the instructor's code, less with a named mistake for each
plausible bug, and the reference it grades against agrees with torch (forward, running statistics, backward).
"""

import numpy as np
import pytest

from autograder.suites import unit5_batchnorm as bn
from tests.autograder.test_suite_unit5 import grade

torch = pytest.importorskip("torch")

MISTAKES = [
    ({"u5_batchnorm_impl": [("var * count / (count - 1)", "var")]}, "the biased batch variance in the running variance"),
    ({"u5_batchnorm_impl": [("new_mean = (1 - momentum) * running_mean + momentum * mean",
                             "new_mean = momentum * running_mean + (1 - momentum) * mean")]},
     "momentum on the wrong side"),
    ({"u5_batchnorm_impl": [("mean, var = x.mean(axis=axes), x.var(axis=axes)",
                             "mean, var = x.mean(axis=axes), x.var(axis=axes, ddof=1)")]},
     "the unbiased variance used to normalise"),
    ({"u5_batchnorm_impl": [("    if not training:                                     # the statistics are constants",
                             "    if True:")]},
     "mean and variance treated as constants"),
    ({"u5_batchnorm_impl": [("dbeta = dout.sum(axis=axes)", "dbeta = dout.mean(axis=axes)")]},
     "dbeta averaged instead of summed"),
    ({"u5_batchnorm_impl": [("        mean, var = np.asarray(running_mean, dtype=float), np.asarray(running_var, dtype=float)",
                             "        mean, var = x.mean(axis=axes), x.var(axis=axes)")]},
     "the batch statistics in evaluation mode"),
]


@pytest.mark.parametrize("edits, phrase", MISTAKES, ids=[f"bn-{i}" for i in range(len(MISTAKES))])
def test_batchnorm_mistake_loses_points_with_a_useful_message(edits, phrase):
    result = grade(edits, only="u5_batchnorm")["u5_batchnorm"]
    text = result.render(show_hidden_details=True)
    assert result.score < result.points, text
    assert phrase in text, text


def test_the_backward_mistake_also_fails_the_numeric_check():
    edits = MISTAKES[3][0]   # mean and variance treated as constants
    result = grade(edits, only="u5_batchnorm")["u5_batchnorm"]
    numeric = [s for s in result.subchecks if "numeric differentiation" in s.what and "training=True" in s.what]
    assert numeric and not any(s.passed for s in numeric)


@pytest.mark.parametrize("shape", [(7, 3), (4, 2, 3, 5)])
@pytest.mark.parametrize("training", [True, False])
def test_reference_forward_running_stats_and_backward_match_torch(shape, training):
    from nnkit.layers.batchnorm import batchnorm_backward, batchnorm_forward

    rng = np.random.default_rng(3)
    C = shape[1]
    x, gamma, beta = rng.normal(size=shape) * 2 + 1, rng.uniform(0.5, 2, size=C), rng.normal(size=C)
    rmean, rvar = rng.normal(size=C), rng.uniform(0.5, 1.5, size=C)
    out, new_mean, new_var, _ = bn._reference(x, gamma, beta, rmean, rvar, training)
    tx = torch.tensor(x, requires_grad=True)
    tg, tb = torch.tensor(gamma, requires_grad=True), torch.tensor(beta, requires_grad=True)
    trm, trv = torch.tensor(rmean.copy()), torch.tensor(rvar.copy())
    tout = torch.nn.functional.batch_norm(tx, trm, trv, tg, tb, training=training, momentum=0.1, eps=1e-5)
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(new_mean, trm.numpy(), rtol=1e-12)
    np.testing.assert_allclose(new_var, trv.numpy(), rtol=1e-12)
    dout = rng.normal(size=shape)
    tout.backward(torch.tensor(dout))
    axes = (0,) if len(shape) == 2 else (0, 2, 3)
    stats = {} if training else {"mean": rmean, "var": rvar}
    dx, dgamma, dbeta = batchnorm_backward(dout, batchnorm_forward(x, gamma, beta, axes=axes, **stats)[3])
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(dgamma, tg.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dbeta, tb.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_batchnorm_forward_returning_a_list_gets_full_marks():
    """out, new_mean, new_var, cache returned as a list is the same answer, also to the numeric checks of the
    backward, which differentiate the student's own forward."""
    last = "    return out, new_mean, new_var, (xhat, inv_std, gamma.reshape(shape), axes, training)"
    result = grade({"u5_batchnorm_impl": [(last, f"    return [{last[11:]}]")]}, only="u5_batchnorm")["u5_batchnorm"]
    assert result.score == result.points, result.render(show_hidden_details=True)
