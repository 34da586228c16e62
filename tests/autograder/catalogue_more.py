"""More of the catalogue (see ``catalogue_data.py`` for the format): correct variants of units 3-5 written the way
real students and other courses write them, and the mistakes met while hunting for them.

Kept apart from ``catalogue_data.py`` so that two people can add entries at once; ``test_catalogue.py``,
``benchmarks/catalogue.py`` and ``test_hidden_descriptions.py`` take both lists.
"""

from tests.autograder.catalogue import Entry as E
from tests.autograder.catalogue_data import (
    AC, AD, AG, ADD, AP, BC, BN, BN_DX, CB, CE, CF, DR, ES, FIT, FL, GC, GN, IN, LI, MA, MB, MF, OS, PE, RL, RM, SC,
    SG, SIG3, SQ, TR, CAP, MSE_LINE, NE, DELTA, CLIP_RET,
)

SM_LOGPROBS = ("    shifted = z - z.max(axis=1, keepdims=True)\n"
               "    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))\n")

UNIT3_VARIANTS = [
    E("u3_activations", AC, [(SIG3, "    return 0.5 * (1.0 + np.tanh(0.5 * z))")], label="sigmoid through tanh"),
    E("u3_activations", AC, [("return np.tanh(np.asarray(z, dtype=float))", "z = np.asarray(z, dtype=float)\n"
                              "    return 2.0 * sigmoid(2.0 * z) - 1.0")], label="tanh as 2 sigmoid(2z) - 1"),
    E("u3_activations", AC, [("return 1.0 - np.tanh(np.asarray(z, dtype=float)) ** 2",
                              "t = np.tanh(np.asarray(z, dtype=float))\n    return (1.0 - t) * (1.0 + t)")],
      label="tanh' as (1 - t)(1 + t)"),
    E("u3_activations", AC, [("return (np.asarray(z, dtype=float) > 0).astype(float)",
                              "return np.heaviside(np.asarray(z, dtype=float), 0.0)")], label="relu' with np.heaviside"),
    E("u3_activations", AC, [("return np.maximum(z, 0.0)", "return z * (z > 0)")], label="relu as z * (z > 0)"),
    E("u3_regression_losses", RL, [("return float(np.mean(diff ** 2)), 2.0 * diff / diff.size",
                                    "return np.mean(diff ** 2), 2.0 * diff / diff.size")],
      label="mse value left as np.float64"),
    E("u3_regression_losses", RL, [("return float(np.mean(np.abs(diff))), np.sign(diff) / diff.size",
                                    "return [np.abs(diff).sum() / diff.size, np.sign(diff) / np.size(diff)]")],
      label="mae returned as a list, summed then divided"),
    E("u3_bce", BC, [("value = np.mean(np.maximum(z, 0.0) - z * y + np.log1p(np.exp(-np.abs(z))))",
                      "value = -np.mean(y * -np.logaddexp(0.0, -z) + (1.0 - y) * -np.logaddexp(0.0, z))")],
      label="bce as -(y log sigma(z) + (1 - y) log sigma(-z)) with logaddexp"),
    E("u3_bce", BC, [("np.log1p(np.exp(-np.abs(z)))", "np.log(1.0 + np.exp(-np.abs(z)))")],
      label="bce with log(1 + e) instead of log1p"),
    E("u3_softmax_ce", CE, [(SM_LOGPROBS, "    log_probs = z - np.logaddexp.reduce(z, axis=1, keepdims=True)\n")],
      label="log-softmax with np.logaddexp.reduce"),
    E("u3_softmax_ce", CE, [("value = -log_probs[rows, labels].mean()",
                             "value = -np.sum(np.eye(c)[labels] * log_probs) / n")], label="cross-entropy through a one-hot matrix"),
    E("u3_softmax_ce", CE, [("    e = np.exp(shifted)\n    return e / e.sum(axis=-1, keepdims=True)",
                             "    return np.exp(shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True)))")],
      label="softmax as exp of the log-softmax"),
    E("u3_gradcheck", GC, [("    x = np.array(x, dtype=float)\n    grad = np.zeros_like(x)\n    for i in np.ndindex(x.shape):\n"
                            "        old = x[i]\n        x[i] = old + eps\n        f_plus = f(x)\n        x[i] = old - eps\n"
                            "        f_minus = f(x)\n        x[i] = old\n        grad[i] = (f_plus - f_minus) / (2.0 * eps)\n",
                            "    x = np.asarray(x, dtype=float)\n    grad = np.zeros(x.size)\n    for k in range(x.size):\n"
                            "        step = np.zeros(x.size)\n        step[k] = eps\n        step = step.reshape(x.shape)\n"
                            "        grad[k] = (f(x + step) - f(x - step)) / 2 / eps\n    grad = grad.reshape(x.shape)\n")],
      label="numeric_grad with a fresh shifted array per entry"),
    E("u3_gradcheck", GC, [("return rel_error(analytic, numeric_grad(f, x, eps))",
                            "num = numeric_grad(f, x, eps=eps)\n    return rel_error(num, analytic)")],
      label="gradient_check with the arguments of rel_error swapped"),
    E("u3_linear", LI, [('self.grads["W"] = self.x.T @ dout\n        self.grads["b"] = dout.sum(axis=0)',
                         'self.grads["W"][...] = self.x.T @ dout\n        self.grads["b"][...] = np.sum(dout, axis=0)')],
      label="grads written into the existing arrays"),
    E("u3_linear", LI, [('return x @ self.params["W"] + self.params["b"]',
                         'return np.einsum("nd,dm->nm", x, self.params["W"]) + self.params["b"]')],
      label="Linear forward with einsum"),
    E("u3_sequential", SQ, [("        self.out = sigmoid(x)\n        return self.out",
                             "        self.x = np.asarray(x, dtype=float)\n        self.out = sigmoid(x)\n        return self.out"),
                            ("return dout * self.out * (1.0 - self.out)",
                             "s = sigmoid(self.x)\n        return dout * s * (1.0 - s)")],
      label="Sigmoid backward recomputed from the stored input"),
    E("u3_sequential", SQ, [("        pairs = []\n        for layer in self.layers:\n            pairs.extend(layer.parameters())\n"
                             "        return pairs",
                             "        return [pair for layer in self.layers for pair in layer.parameters()]")],
      label="parameters as one comprehension"),
    E("u3_sequential", SQ, [("        pairs = []\n        for layer in self.layers:\n            pairs.extend(layer.parameters())\n"
                             "        return pairs", "        for layer in self.layers:\n            yield from layer.parameters()")],
      label="parameters as a generator (yield from, like PyTorch's)"),
    E("u3_sequential", SQ, [("        pairs = []\n        for layer in self.layers:\n            pairs.extend(layer.parameters())\n"
                             "        return pairs",
                             "        import itertools\n"
                             "        return itertools.chain.from_iterable(layer.parameters() for layer in self.layers)")],
      label="parameters as an itertools.chain (an iterator, not a generator)"),
    E("u3_linear", LI, [("class Linear(Layer):", "class ShapeError(ValueError):\n    pass\n\n\nclass Linear(Layer):"),
                        ('raise ValueError(f"Linear.forward:', 'raise ShapeError(f"Linear.forward:')],
      label="a ValueError subclass of its own for a bad shape (except ValueError catches it)"),
    E("u3_capacity", SQ, [("        pairs = []\n        for layer in self.layers:\n            pairs.extend(layer.parameters())\n"
                           "        return pairs", "        for layer in self.layers:\n            yield from layer.parameters()")],
      label="capacity nets whose parameters() is a generator"),
    E("u3_sequential", SQ, [("        for layer in self.layers:\n            x = layer.forward(x, training=training)\n        return x",
                             "        out = x\n        for layer in self.layers:\n            out = layer.forward(out, training)\n        return out")],
      label="training passed on by position"),
    E("u3_training", TR, [("order = np.random.default_rng(rng).permutation(n)",
                           "order = np.arange(n)\n    np.random.default_rng(rng).shuffle(order)")],
      label="rng.shuffle of an arange (the same draws as permutation)"),
    E("u3_training", TR, [("history.append(float(np.mean(batch_losses)))", "history.append(np.mean(batch_losses))")],
      label="epoch losses left as np.float64"),
    E("u3_training", TR, [("batch_size=32, seed=0):", "batch_size=32, seed=0, verbose=False):")],
      label="an extra keyword argument with a default"),
    E("u3_capacity", CAP, [(MSE_LINE, "return np.mean((pred - y) ** 2)")], label="heldout_mse as np.float64"),
    E("u3_capacity", CAP, [("    return models, errors", "    return [models, errors]")],
      label="capacity_curve returns a list of the two lists"),
    E("u3_more_activations", MA, [("alpha * np.expm1(np.minimum(z, 0.0))", "alpha * (np.exp(np.minimum(z, 0.0)) - 1.0)")],
      label="elu with exp - 1 instead of expm1"),
    E("u3_more_activations", MA, [("    return pairs[task]", "    return list(pairs[task])")],
      label="output_layer_for returns a list"),
]



ES_BODY = ("    best, best_epoch = np.inf, 0\n    for epoch, loss in enumerate(losses):\n"
           "        if loss < best - min_delta:\n")

UNIT4_VARIANTS = [
    E("u4_sgd_momentum", SG, [("return np.asarray(w, dtype=float) - lr * v_new, v_new",
                               "return [np.asarray(w, dtype=float) - lr * v_new, v_new]")],
      label="momentum_step returns a list"),
    E("u4_nesterov", NE, [("return np.asarray(w, dtype=float) - lr * (g + momentum * v_new), v_new",
                           "return np.asarray(w, dtype=float) - lr * ((1 + momentum) * g + momentum * momentum * np.asarray(v, dtype=float)), v_new")],
      label="Nesterov expanded: w - lr ((1 + mu) g + mu**2 v_old)"),
    E("u4_rmsprop", RM, [("lr * g / (np.sqrt(s_new) + eps)", "lr / (np.sqrt(s_new) + eps) * g")],
      label="RMSProp with the division first"),
    E("u4_adam", AD, [("    m_hat = m_new / (1.0 - beta1 ** t_new)\n    v_hat = v_new / (1.0 - beta2 ** t_new)\n",
                       "    m_hat = m_new / (1.0 - np.power(beta1, t_new))\n    v_hat = v_new / (1.0 - np.power(beta2, t_new))\n"),
                      ("(np.sqrt(v_hat) + eps)", "(v_hat ** 0.5 + eps)")], label="Adam with np.power and ** 0.5"),
    E("u4_init", IN, [("return rng.uniform(-a, a, size=(int(fan_in), int(fan_out)))",
                       "return a * (2.0 * rng.random((int(fan_in), int(fan_out))) - 1.0)")],
      label="xavier_uniform from rng.random scaled to [-a, a)"),
    E("u4_init", IN, [("    rng = np.random.default_rng(seed)\n    return rng.normal",
                       "    rng = np.random.Generator(np.random.PCG64(seed))\n    return rng.normal")],
      label="Generator(PCG64(seed)), default_rng's generator spelled out"),
    E("u4_grad_norms", GN, [('float(np.linalg.norm(layer.grads["W"]))', 'np.sqrt(np.sum(layer.grads["W"] ** 2))')],
      label="norms as np.sqrt of the sum of squares (np.float64)"),
    E("u4_dropout", DR, [("    mask = keep / (1.0 - p)\n    return x * mask, mask",
                          "    return np.where(keep, x / (1.0 - p), 0.0), keep * (1.0 / (1.0 - p))")],
      label="dropout output as x / (1 - p) where kept"),
    E("u4_penalties", PE, [("return float(lam * np.sum(np.abs(W))), lam * np.sign(W)",
                            "return lam * np.abs(W).sum(), np.sign(W) * lam")], label="l1 value as np.float64"),
    E("u4_penalties", PE, [("    norms = np.linalg.norm(W, axis=0)\n    scale = np.minimum(1.0, c / np.maximum(norms, 1e-300))\n    return W * scale",
                            "    out = W.copy()\n    for j in range(W.shape[1]):\n        n = np.sqrt(np.sum(W[:, j] ** 2))\n"
                            "        if n > c:\n            out[:, j] = W[:, j] / n * c\n    return out")],
      label="max_norm column by column"),
    E("u4_early_stopping", ES, [(ES_BODY, ES_BODY.replace("loss < best - min_delta", "best - loss > min_delta"))],
      label="improvement as best - loss > min_delta"),
    E("u4_early_stopping", ES, [("            return epoch, best_epoch", "            return [epoch, best_epoch]")],
      label="early_stopping returns a list"),
    E("u4_adagrad", AG, [("s_new = np.asarray(s, dtype=float) + g * g", "s_new = np.add(s, np.square(g))")],
      label="Adagrad with np.add and np.square"),
    E("u4_adadelta", ADD, [(DELTA, "delta = g * np.sqrt(u + eps) / np.sqrt(a_new + eps)")],
      label="Adadelta step multiplied in another order"),
    E("u4_adadelta", ADD, [("    a_new = rho * a + (1.0 - rho) * g * g\n", "    a_new = a.copy()\n    a_new *= rho\n    a_new += (1.0 - rho) * g ** 2\n")],
      label="Adadelta's average updated in place on a copy"),
    E("u4_schedule_clip", SC, [("return base_lr * drop ** (epoch // every)", "import math\n    return base_lr * math.pow(drop, math.floor(epoch / every))")],
      label="step decay with math.pow and math.floor"),
    E("u4_schedule_clip", SC, [("total = float(np.sqrt(sum(np.sum(np.asarray(g, dtype=float) ** 2) for g in grads)))",
                                "total = np.linalg.norm([np.linalg.norm(g) for g in grads])")],
      label="global norm as the norm of the per-array norms (np.float64)"),
    E("u4_fit", FIT, [("        relu_mask, drop_mask = z > 0, None\n        out = z * relu_mask\n",
                       "        relu_mask, drop_mask = z > 0, None\n        out = np.maximum(z, 0.0)\n")],
      label="ReLU as np.maximum"),
    E("u4_fit", FIT, [("    state = [[(np.zeros_like(a), np.zeros_like(a), 0) for a in pair] for pair in params]\n",
                       "    state = {(k, name): (np.zeros_like(a), np.zeros_like(a), 0) for k, pair in enumerate(params)\n"
                       "             for name, a in zip('Wb', pair)}\n"),
                      ("                (mW, vW, tW), (mb, vb, tb) = state[k]\n",
                       "                (mW, vW, tW), (mb, vb, tb) = state[k, 'W'], state[k, 'b']\n"),
                      ("                state[k] = [(mW, vW, tW), (mb, vb, tb)]\n",
                       "                state[k, 'W'], state[k, 'b'] = (mW, vW, tW), (mb, vb, tb)\n")],
      label="Adam state in a dict keyed by (layer, name)"),
    E("u4_fit", FIT, [("dW = dW + l2_penalty(W, weight_decay)[1]", "dW = dW + weight_decay * W"),
                      ('history["val_accuracy"].append(float(np.mean(np.argmax(val_scores, axis=1) == y_val)))',
                       'history["val_accuracy"].append(np.mean(np.argmax(val_scores, axis=1) == y_val))')],
      label="L2 gradient written out; accuracy left as np.float64"),
]

CONV_PAD = "xpad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))    # (N, C, H + 2P, W + 2P)"
BN_TRAIN = ("        new_mean = (1 - momentum) * running_mean + momentum * mean\n"
            "        new_var = (1 - momentum) * running_var + momentum * var * count / (count - 1)\n")

UNIT5_VARIANTS = [
    E("u5_conv_output_size", OS, [("return 1 + (int(H) + 2 * int(padding) - int(HH)) // int(stride)",
                                   "import math\n    return math.floor((H + 2 * padding - HH) / stride) + 1")],
      label="output size with math.floor of a true division"),
    E("u5_conv_forward", CF, [(CONV_PAD, "xpad = np.zeros((N, C, H + 2 * padding, Wd + 2 * padding))\n"
                                         "    xpad[:, :, padding:padding + H, padding:padding + Wd] = x")],
      label="padding by copying into a zero array"),
    E("u5_conv_forward", CF, [("out[:, :, i, j] = np.tensordot(window, W, axes=([1, 2, 3], [1, 2, 3])) + b",
                               "out[:, :, i, j] = (window[:, None] * W[None]).sum(axis=(2, 3, 4)) + b")],
      label="conv forward by broadcasting and summing"),
    E("u5_maxpool_forward", MF, [("S = K if stride is None else int(stride)", "S = int(stride or K)")],
      label="stride or K"),
    E("u5_avgpool", AP, [("    out = np.empty((N, C, H_out, W_out))\n    for i in range(H_out):\n        for j in range(W_out):\n"
                          "            out[:, :, i, j] = x[:, :, i * S:i * S + K, j * S:j * S + K].mean(axis=(2, 3))\n",
                          "    win = np.lib.stride_tricks.sliding_window_view(x, (K, K), axis=(2, 3))[:, :, ::S, ::S]\n"
                          "    out = win[:, :, :H_out, :W_out].mean(axis=(-2, -1))\n")],
      label="avgpool forward over sliding windows"),
    E("u5_flatten", FL, [("return x.reshape(x.shape[0], -1), x.shape", "return x.reshape(x.shape[0], -1), x"),
                         ("return np.asarray(dout, dtype=np.float64).reshape(cache)",
                          "return np.reshape(dout, cache.shape)")], label="flatten caching x itself"),
    E("u5_batchnorm", BN, [(BN_TRAIN, "        new_mean = running_mean + momentum * (mean - running_mean)\n"
                                      "        new_var = running_var + momentum * (var * count / (count - 1) - running_var)\n")],
      label="running statistics as r + m (batch - r)"),
    E("u5_batchnorm", BN, [("    xhat = (x - mean.reshape(shape)) * inv_std\n",
                            "    xhat = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps)\n")],
      label="xhat by dividing by the standard deviation"),
    E("u5_batchnorm", BN, [(BN_DX, "m = dout.size // dout.shape[1]\n"
                                   "    dx = inv_std / m * (m * dxhat - dxhat.sum(axis=axes, keepdims=True)\n"
                                   "                        - xhat * (dxhat * xhat).sum(axis=axes, keepdims=True))")],
      label="backward with sums and 1/m (CS231n's form)"),
    E("u5_batchnorm", BN, [("        mean, var = x.mean(axis=axes), x.var(axis=axes)             # biased variance for normalising\n",
                            "        mean = x.mean(axis=axes)\n"
                            "        var = ((x - mean.reshape(shape)) ** 2).mean(axis=axes)\n")],
      label="biased variance written out"),
    E("u5_batchnorm", BN, [("        mean, var = x.mean(axis=axes), x.var(axis=axes)             # biased variance for normalising\n",
                            "        mean = x.mean(axis=axes)\n        var = (x * x).mean(axis=axes) - mean ** 2\n")],
      label="variance as E[x**2] - E[x]**2"),
    E("u5_batchnorm", BN, [(BN_TRAIN, "        new_mean, new_var = np.array(running_mean, dtype=float), np.array(running_var, dtype=float)\n"
                                      "        new_mean *= 1 - momentum\n        new_mean += momentum * mean\n"
                                      "        new_var *= 1 - momentum\n        new_var += momentum * var * count / (count - 1)\n")],
      label="running statistics updated in place on copies"),
]


# Sums in another order through a whole training run, and layers written through a shared base class.
MORE_VARIANTS = [
    E("u4_fit", FIT, [("        z = h @ W + b\n", "        z = np.einsum('nd,dm->nm', h, W) + b\n"),
                      ("        grads[k] = (h_in.T @ dout, dout.sum(axis=0))\n        dout = dout @ W.T\n",
                       "        grads[k] = (np.einsum('nd,nm->dm', h_in, dout), np.einsum('nm->m', dout))\n"
                       "        dout = (W @ dout.T).T\n")],
      label="the MLP through einsum (sums in another order)"),
    E("u3_training", TR, [("    return history",
                           "    return history\n\n\ndef _backward(self, dout):\n"
                           "    self.grads['W'] = np.einsum('nd,nm->dm', self.x, dout)\n"
                           "    self.grads['b'] = np.einsum('nm->m', dout)\n"
                           "    return (self.params['W'] @ dout.T).T\n\n\nLinear.backward = _backward\n")],
      label="trained with a Linear whose backward sums in another order"),
    E("u3_sequential", SQ, [("class Sigmoid(Layer):",
                             "class Elementwise(Layer):\n    def forward(self, x, training=True):\n"
                             "        self.x = np.asarray(x, dtype=float)\n        return self.f(self.x)\n\n"
                             "    def backward(self, dout):\n        return dout * self.df(self.x)\n\n\n"
                             "class Sigmoid(Layer):"),
                            ("class Tanh(Layer):", "class Tanh(Elementwise):\n    f, df = staticmethod(tanh), staticmethod(tanh_grad)\n\n\n"
                                                   "class _OldTanh(Layer):"),
                            ("class ReLU(Layer):", "class ReLU(Elementwise):\n    f, df = staticmethod(relu), staticmethod(relu_grad)\n\n\n"
                                                   "class _OldReLU(Layer):")],
      label="activation layers subclassing one Elementwise layer (f and f')"),
    E("u4_fit", FIT, [("            caches.append((h, None, None))\n            return z, caches\n",
                       "            caches.append((h, None, None))\n            return [z, caches]\n")],
      label="mlp_forward returns [scores, caches], a list"),
    E("u5_batchnorm", BN, [("    return out, new_mean, new_var, (xhat, inv_std, gamma.reshape(shape), axes, training)",
                            "    return [out, new_mean, new_var, (xhat, inv_std, gamma.reshape(shape), axes, training)]")],
      label="batchnorm_forward returns a list of its four results"),
    E("u4_fit", FIT, [("    return best_params, history",
                       "    return best_params, history\n\n\ndef adam_step(w, g, m, v, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):\n"
                       "    beta1, beta2 = betas\n    g = np.asarray(g, dtype=float)\n    t_new = t + 1\n"
                       "    m_new = beta1 * np.asarray(m, dtype=float) + (1.0 - beta1) * g\n"
                       "    v_new = beta2 * np.asarray(v, dtype=float) + (1.0 - beta2) * g * g\n"
                       "    step = lr * np.sqrt(1.0 - beta2 ** t_new) / (1.0 - beta1 ** t_new)\n"
                       "    w_new = np.asarray(w, dtype=float) - step * m_new / (np.sqrt(v_new) + eps * np.sqrt(1.0 - beta2 ** t_new))\n"
                       "    return w_new, m_new, v_new, t_new")],
      label="trained with an Adam whose step is rounded differently (the bias corrections folded into lr)"),
    E("u4_dropout", DR, [("        return x.copy(), np.ones_like(x)\n", "        return x, np.ones(x.shape)\n")],
      label="evaluation returns x itself, not a copy"),
    E("u4_grad_norms", GN, [('for layer in model.layers if "W" in layer.params]',
                             'for layer in model.layers if isinstance(layer, Linear)]')],
      label="the layers with a W picked as the Linear layers"),
]

REL_LINE = "return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))"
MISTAKES = [
    E("u3_gradcheck", GC, [(REL_LINE, "return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.maximum(np.abs(a), np.abs(b)))))")],
      r"max\(\|a_i\|, \|b_i\|\) in the denominator", label="rel_error divided by max(|a|, |b|)"),
    E("u3_gradcheck", GC, [(REL_LINE, "return float(np.max(np.abs(a - b)))")], r"largest absolute error",
      label="rel_error as the largest absolute error"),
]

VARIANTS = UNIT3_VARIANTS + UNIT4_VARIANTS + UNIT5_VARIANTS + MORE_VARIANTS
