"""Partially correct unit-5 submissions: each is a plausible student notebook, scripted as edits of the
instructor's solution cells (see ``tests/notebooks/_kit.py``; a solution cell not listed keeps its stub).

The mistakes are the ones the unit-5 checks diagnose: a flipped kernel, a wrong output-size formula, max-pool
gradients sent to every tied maximum, an average-pool gradient not divided by the window size, a channels-last
flatten, and a CNN trained too briefly (partial credit on the held-out accuracy scale).
"""

from tests.notebooks._kit import SOLVED

FLIPPED_KERNEL = [("np.tensordot(window, W, axes", "np.tensordot(window, W[:, :, ::-1, ::-1], axes")]
TIES_TO_ALL_MAXIMA = [("onehot = np.arange(K * K) == first[..., None]",
                       "onehot = x[:, :, rows, cols].reshape(N, C, K * K) == "
                       "x[:, :, rows, cols].reshape(N, C, K * K).max(axis=2, keepdims=True)")]
NO_PLUS_ONE = [("return 1 + (int(H)", "return (int(H)")]
AVG_NOT_DIVIDED = [("dout[:, :, i, j, None, None] / (K * K)", "dout[:, :, i, j, None, None]")]
CHANNELS_LAST = [("return x.reshape(x.shape[0], -1), x.shape",
                  "return x.transpose(0, 2, 3, 1).reshape(x.shape[0], -1), x.shape")]
DB_AVERAGED = [("db = dout.sum(axis=(0, 2, 3))", "db = dout.sum(axis=(0, 2, 3)) / dout.shape[0]")]
POOL_GRAD_OVERWRITTEN = [("+= (onehot", "= (onehot")]
THREE_EPOCHS = [("epochs=15", "epochs=3")]

SUBMISSIONS = {
    # A true convolution (flipped kernel) and max-pool ties sent to every maximum; no avg-pool, no CNN.
    "flipped_kernel": {
        "u5_conv_output_size_impl": SOLVED,
        "u5_conv_forward_impl": FLIPPED_KERNEL,
        "u5_conv_backward_impl": SOLVED,
        "u5_maxpool_forward_impl": SOLVED,
        "u5_maxpool_backward_impl": TIES_TO_ALL_MAXIMA,
        "u5_flatten_impl": SOLVED,
    },
    # The output-size formula without the +1 (so conv2d_forward, which uses it, has the wrong shape), db averaged
    # over the batch, avg-pool not divided by K*K, a channels-last flatten; no CNN.
    "size_formula_and_scaling": {
        "u5_conv_output_size_impl": NO_PLUS_ONE,
        "u5_conv_forward_impl": SOLVED,
        "u5_conv_backward_impl": DB_AVERAGED,
        "u5_maxpool_forward_impl": SOLVED,
        "u5_maxpool_backward_impl": SOLVED,
        "u5_avgpool_impl": AVG_NOT_DIVIDED,
        "u5_flatten_impl": CHANNELS_LAST,
    },
    # Every layer but avg-pool; max-pool backward overwrites overlapping windows (harmless for the CNN's 2x2/2
    # pools, caught by the checks' overlapping windows); the CNN trained for 3 epochs only (about 90% accurate).
    "undertrained_cnn": {
        "u5_conv_output_size_impl": SOLVED,
        "u5_conv_forward_impl": SOLVED,
        "u5_conv_backward_impl": SOLVED,
        "u5_maxpool_forward_impl": SOLVED,
        "u5_maxpool_backward_impl": POOL_GRAD_OVERWRITTEN,
        "u5_flatten_impl": SOLVED,
        "u5_cnn_impl": THREE_EPOCHS,
    },
}
