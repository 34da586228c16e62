"""The unit 5 checks give full marks to the instructor's solution, nothing to the untouched stubs, and less than
full marks, with a useful message, to each plausible mistake.

The correct student is the solution notebook's own code (``solutions/unit5/unit5.ipynb`` with the nbgrader
markers removed); each mistake is a small edit of it (see ``tests/notebooks/_kit.py``). The CNN cell trains a
network for several seconds, so the layer items are graded with it left as a stub, and the CNN item is tested
with scripted ``predict_digits`` functions of known accuracy (the trained CNN itself is graded when
``tests/notebooks/`` executes the notebook).
"""

import subprocess
import sys

import numpy as np
import pytest

from autograder.handle import LocalHandle
from autograder.items import load_registry
from autograder.runner import run_item
from autograder.suites import unit5
from tests.notebooks import _kit

REGISTRY = load_registry(["unit5"])
LAYER_ITEMS = [item for item in REGISTRY if item.grade_id != "u5_cnn_digits"]
SLOW_CELLS = {"u5_cnn_impl": _kit.STUB, "u5_conv_forward_fast_impl": _kit.STUB}


def grade(edits=None, base=_kit.SOLVED, only=None):
    ns = _kit.student_namespace("unit5", {**SLOW_CELLS, **(edits or {})}, base=base)
    return {item.grade_id: run_item(item, LocalHandle(ns), include_hidden=True) for item in LAYER_ITEMS
            if only is None or item.grade_id == only}


@pytest.fixture(scope="module")
def solved():
    return grade()


def test_every_layer_item_gives_the_solution_full_marks(solved):
    assert {gid: r.score for gid, r in solved.items()} == {item.grade_id: item.points for item in LAYER_ITEMS}, \
        "\n".join(r.render(show_hidden_details=True) for r in solved.values() if r.score < r.points)


def test_every_item_has_visible_and_hidden_subchecks(solved):
    for gid, result in solved.items():
        assert any(not s.hidden for s in result.subchecks), gid
        assert any(s.hidden for s in result.subchecks), gid
    cnn = REGISTRY.get("u5_cnn_digits")
    assert cnn.checks and cnn.hidden_checks


def test_untouched_stubs_score_zero_and_say_what_to_implement():
    results = grade(base=_kit.STUB)
    assert all(r.score == 0.0 for r in results.values()), {g: r.score for g, r in results.items()}
    assert "implement `conv2d_forward` first" in results["u5_conv_forward"].render()
    assert "implement `maxpool2d_forward` first" in results["u5_maxpool_backward"].render()
    ns = _kit.student_namespace("unit5", base=_kit.STUB)
    cnn = run_item(REGISTRY.get("u5_cnn_digits"), LocalHandle(ns), include_hidden=True)
    assert cnn.score == 0.0 and "`predict_digits` is not defined" in cnn.render()


FLIPPED = {"u5_conv_forward_impl": [("np.tensordot(window, W, axes", "np.tensordot(window, W[:, :, ::-1, ::-1], axes")]}
NO_PLUS_ONE = {"u5_conv_output_size_impl": [("return 1 + (int(H)", "return (int(H)")]}
NO_PADDING = {"u5_conv_output_size_impl": [("+ 2 * int(padding)", "")]}
TIES_TO_ALL = {"u5_maxpool_backward_impl": [(
    "onehot = np.arange(K * K) == first[..., None]",
    "onehot = x[:, :, rows, cols].reshape(N, C, K * K) == x[:, :, rows, cols].reshape(N, C, K * K).max(axis=2, "
    "keepdims=True)")]}
AVG_NOT_DIVIDED = {"u5_avgpool_impl": [("dout[:, :, i, j, None, None] / (K * K)", "dout[:, :, i, j, None, None]")]}

MISTAKES = [
    # (item, edits, a phrase the feedback must contain)
    ("u5_conv_forward", FLIPPED, "flipped kernel"),
    ("u5_conv_forward", {"u5_conv_forward_impl": [(") + b    # (N, F)", ")    # (N, F)")]}, "bias b[f] is missing"),
    ("u5_conv_forward", {"u5_conv_forward_impl": [("return out, cache", "return out")]}, "a bare array"),
    ("u5_conv_forward", NO_PLUS_ONE, "forgot the +1"),
    ("u5_conv_forward", NO_PADDING, "padding is ignored"),
    ("u5_conv_forward", {"u5_conv_forward_impl": [("out = np.empty((N, F, H_out, W_out))",
                                                   "out = np.empty((N, F, H_out, W_out), dtype=np.float32)")]},
     "float32"),
    ("u5_conv_output_size", NO_PLUS_ONE, "forgot the +1"),
    ("u5_conv_output_size", NO_PADDING, "padding is ignored"),
    ("u5_conv_output_size", {"u5_conv_output_size_impl": [("+ 2 * int(padding)", "+ int(padding)")]}, "one side only"),
    ("u5_conv_output_size", {"u5_conv_output_size_impl": [(" // int(stride)", "")]}, "the stride is ignored"),
    ("u5_conv_output_size", {"u5_conv_output_size_impl": [("// int(stride)", "/ int(stride)")]},
     "use // (floor division)"),
    ("u5_conv_backward", {"u5_conv_backward_impl": [("dxpad[:, :, rows, cols] += ", "dxpad[:, :, rows, cols] = ")]},
     "numeric differentiation"),
    ("u5_conv_backward", {"u5_conv_backward_impl": [("db = dout.sum(axis=(0, 2, 3))",
                                                     "db = dout.sum(axis=(0, 2, 3)) / dout.shape[0]")]},
     "db averaged over the batch"),
    ("u5_conv_backward", {"u5_conv_backward_impl": [(
        "dW += np.tensordot(d, xpad[:, :, rows, cols], axes=([0], [0]))",
        "dW += np.tensordot(d, xpad[:, :, rows, cols], axes=([0], [0]))[:, :, ::-1, ::-1]")]},
     "dW with the kernel flipped"),
    ("u5_conv_backward", FLIPPED, "it is your conv2d_forward that computes something else"),
    ("u5_maxpool_forward", {"u5_maxpool_forward_impl": [(".max(axis=(2, 3))", ".mean(axis=(2, 3))")]},
     "avg-pooling instead of max-pooling"),
    ("u5_maxpool_forward", {"u5_maxpool_forward_impl": [(".max(axis=(2, 3))", ".max(axis=(2, 3), initial=0.0)")]},
     "starts at 0"),
    ("u5_maxpool_forward", {"u5_maxpool_forward_impl": [("S = K if stride is None else int(stride)", "S = K")]},
     "the stride argument is ignored"),
    ("u5_maxpool_backward", TIES_TO_ALL, "every maximum of a window"),
    ("u5_maxpool_backward", {"u5_maxpool_backward_impl": [("+= (onehot", "= (onehot")]}, "overwrite"),
    ("u5_avgpool", AVG_NOT_DIVIDED, "not divided by the window size"),
    ("u5_avgpool", {"u5_avgpool_impl": [(".mean(axis=(2, 3))", ".max(axis=(2, 3))")]},
     "max-pooling instead of avg-pooling"),
    ("u5_flatten", {"u5_flatten_impl": [("return x.reshape(x.shape[0], -1), x.shape",
                                         "return x.transpose(0, 2, 3, 1).reshape(x.shape[0], -1), x.shape")]},
     "channels-last order"),
    ("u5_flatten", {"u5_flatten_impl": [("return x.reshape(x.shape[0], -1), x.shape",
                                         "return x.reshape(-1), x.shape")]}, "expected shape"),
]


@pytest.mark.parametrize("gid, edits, phrase", MISTAKES, ids=[f"{m[0]}-{i}" for i, m in enumerate(MISTAKES)])
def test_mistake_loses_points_with_a_useful_message(gid, edits, phrase):
    result = grade(edits, only=gid)[gid]
    item = REGISTRY.get(gid)
    assert result.score < item.points, result.render(show_hidden_details=True)
    assert phrase in result.render(show_hidden_details=True), result.render(show_hidden_details=True)


def test_a_flipped_kernel_is_named_in_the_visible_feedback():
    result = grade(FLIPPED, only="u5_conv_forward")["u5_conv_forward"]
    assert "hint: this looks like convolution with a flipped kernel" in result.render()
    visible = [s for s in result.subchecks if not s.hidden]
    assert not any(s.passed for s in visible)      # (a hidden 1x1 kernel is its own flip and passes)
    assert result.score < 0.5 * REGISTRY.get("u5_conv_forward").points


def test_wrong_output_size_shows_the_formula_and_its_value():
    text = grade(NO_PLUS_ONE, only="u5_conv_forward")["u5_conv_forward"].render()
    assert "H' = 1 + (H + 2*padding - HH) // stride gives 1 + (7 + 2*1 - 3) // 1 = 7" in text


def test_tie_mistakes_cost_only_the_tie_subchecks():
    result = grade(TIES_TO_ALL, only="u5_maxpool_backward")["u5_maxpool_backward"]
    failed = [s.what for s in result.subchecks if not s.passed]
    assert failed and all("with ties" in what for what in failed), failed
    assert 0 < result.score < REGISTRY.get("u5_maxpool_backward").points


def test_avgpool_not_divided_is_caught_by_reference_and_numeric_checks():
    result = grade(AVG_NOT_DIVIDED, only="u5_avgpool")["u5_avgpool"]
    failed = [s.what for s in result.subchecks if not s.passed]
    # the forward is right, so both the reference and the numeric differentiation of it disagree with dx
    assert any("reference" in w for w in failed) and any("numeric" in w for w in failed), failed
    assert not any("avgpool2d_forward with" in w for w in failed), failed
    assert "exactly 4x" in result.render()


def test_a_mistake_in_one_item_leaves_the_unrelated_items_alone():
    results = grade(AVG_NOT_DIVIDED)
    assert all(r.score == REGISTRY.get(g).points for g, r in results.items() if g != "u5_avgpool")


# -- the CNN item: predict_digits functions of known accuracy ----------------------------------------------------
def _oracle_namespace(accuracy: float, *, dtype=np.int64, extra_dim=False):
    """A student whose predict_digits is right on exactly the first ``accuracy`` share of any split it gets."""
    from nnkit import data

    splits = data.digits_splits()
    table = {row.tobytes(): label for X, y in ((splits["X_val"], splits["y_val"]), (splits["X_test"], splits["y_test"]))
             for row, label in zip(X, y)}

    def predict_digits(X):
        labels = np.array([table[row.tobytes()] for row in np.asarray(X, dtype=np.float64)])
        wrong = int(round(len(labels) * (1 - accuracy)))
        labels[:wrong] = (labels[:wrong] + 1) % 10
        out = labels.astype(dtype)
        return out[:, None] if extra_dim else out

    return {"np": np, "predict_digits": predict_digits}


@pytest.mark.parametrize("accuracy, fraction", [(1.0, 1.0), (0.965, 1.0), (0.91, 0.5), (0.85, 0.0)])
def test_cnn_item_scales_credit_with_held_out_accuracy(accuracy, fraction):
    item = REGISTRY.get("u5_cnn_digits")
    result = run_item(item, LocalHandle(_oracle_namespace(accuracy)), include_hidden=True)
    assert result.score == pytest.approx(item.points * fraction, abs=0.1), result.render(show_hidden_details=True)
    assert "held-out test accuracy" in result.render()


def test_cnn_item_refuses_float_or_column_labels():
    item = REGISTRY.get("u5_cnn_digits")
    for ns in (_oracle_namespace(1.0, dtype=np.float64), _oracle_namespace(1.0, extra_dim=True)):
        result = run_item(item, LocalHandle(ns), include_hidden=True)
        assert result.score == 0.0 and "integer labels" in result.render()


# -- integrity rules -------------------------------------------------------------------------------------------
def test_every_unit5_item_forbids_the_reference_layers_and_allows_units_3_and_4():
    for item in REGISTRY:
        assert item.forbid == unit5.FORBID, item.grade_id
        assert item.forbids("nnkit.layers") and item.forbids("nnkit.layers.conv") and item.forbids("nnkit.examples.cnn")
        for allowed in ("nnkit.data", "nnkit.plot", "nnkit.optim", "nnkit.train", "nnkit.losses"):
            assert not item.forbids(allowed), (item.grade_id, allowed)


def test_the_allowed_training_modules_do_not_import_the_reference_layers():
    # The worker records every import, transitive ones too: if nnkit.train pulled in nnkit.layers, a student
    # using it would lose every unit-5 item.
    code = ("import sys, nnkit.train, nnkit.optim, nnkit.losses; "
            "print(sorted(m for m in sys.modules if m.startswith(('nnkit.layers', 'nnkit.examples'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# -- loops are enough ------------------------------------------------------------------------------------------
# (A student's own argument names, `pad` below, do not matter: the grader passes arguments by position.)
NAIVE_CONV = '''
def conv2d_forward(x, W, b, stride=1, pad=0):
    N, C, H, Wd = x.shape
    F, _, HH, WW = W.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    H_out, W_out = 1 + (H + 2 * pad - HH) // stride, 1 + (Wd + 2 * pad - WW) // stride
    out = np.zeros((N, F, H_out, W_out))
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    for c in range(C):
                        for p in range(HH):
                            for q in range(WW):
                                out[n, f, i, j] += xp[n, c, i * stride + p, j * stride + q] * W[f, c, p, q]
                    out[n, f, i, j] += b[f]
    return out, {"x": x, "W": W, "stride": stride, "pad": pad}
'''
NAIVE_CONV_BACKWARD = '''
def conv2d_backward(dout, cache):
    x, W, stride, pad = cache["x"], cache["W"], cache["stride"], cache["pad"]
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dxp, dW, db = np.zeros_like(xp), np.zeros_like(W), np.zeros(W.shape[0])
    N, F, H_out, W_out = dout.shape
    HH, WW = W.shape[2:]
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    window = xp[n, :, i * stride:i * stride + HH, j * stride:j * stride + WW]
                    dW[f] += dout[n, f, i, j] * window
                    dxp[n, :, i * stride:i * stride + HH, j * stride:j * stride + WW] += dout[n, f, i, j] * W[f]
                    db[f] += dout[n, f, i, j]
    return dxp[:, :, pad:pad + x.shape[2], pad:pad + x.shape[3]], dW, db
'''
NAIVE_MAXPOOL = '''
class PoolCache:
    def __init__(self, x, k, s):
        self.x, self.k, self.s = x, k, s


def maxpool2d_forward(x, kernel_size=2, stride=None):
    s = stride or kernel_size
    N, C, H, W = x.shape
    out = np.zeros((N, C, 1 + (H - kernel_size) // s, 1 + (W - kernel_size) // s))
    for n in range(N):
        for c in range(C):
            for i in range(out.shape[2]):
                for j in range(out.shape[3]):
                    out[n, c, i, j] = x[n, c, i * s:i * s + kernel_size, j * s:j * s + kernel_size].max()
    return out, PoolCache(x, kernel_size, s)
'''
NAIVE_MAXPOOL_BACKWARD = '''
def maxpool2d_backward(dout, cache):
    x, k, s = cache.x, cache.k, cache.s
    dx = np.zeros_like(x)
    N, C, H_out, W_out = dout.shape
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    window = x[n, c, i * s:i * s + k, j * s:j * s + k]
                    p, q = np.unravel_index(np.argmax(window), window.shape)
                    dx[n, c, i * s + p, j * s + q] += dout[n, c, i, j]
    return dx
'''


def test_plain_loop_implementations_with_any_cache_earn_full_marks():
    results = grade({"u5_conv_forward_impl": NAIVE_CONV, "u5_conv_backward_impl": NAIVE_CONV_BACKWARD,
                     "u5_maxpool_forward_impl": NAIVE_MAXPOOL, "u5_maxpool_backward_impl": NAIVE_MAXPOOL_BACKWARD})
    for gid in ("u5_conv_forward", "u5_conv_backward", "u5_maxpool_forward", "u5_maxpool_backward"):
        assert results[gid].score == REGISTRY.get(gid).points, results[gid].render(show_hidden_details=True)


# -- the integrity rules through `nnkit grade` -------------------------------------------------------------------
def _graded_submission(tmp_path, edits):
    """``nnkit grade`` of the released exercise with ``edits`` put in (the CNN cell left as its stub)."""
    import nbformat

    from autograder.grader import grade_submission

    release = _kit.read_notebook(_kit.REPO / "exercises" / "unit5" / "unit5.ipynb")
    solution = _kit.read_notebook(_kit.solution_notebook_path("unit5"))
    layers = {gid: _kit.SOLVED for gid in _kit.solution_sources("unit5") if gid != "u5_cnn_impl"}
    path = tmp_path / "submitted" / "unit5.ipynb"
    path.parent.mkdir(parents=True)
    nbformat.write(_kit.make_submission(release, solution, {**layers, **edits}, "unit5"), path)
    result = grade_submission(path)
    assert result.error is None, result.error
    return {r.grade_id: r for r in result.items}, result


def test_nnkit_grade_allows_the_units_3_and_4_modules(tmp_path):
    uses_optim = {"u5_flatten_impl": [("def flatten_forward(x):",
                                       "import nnkit.optim\nimport nnkit.train\n\n\ndef flatten_forward(x):")]}
    items, result = _graded_submission(tmp_path, uses_optim)
    assert not result.flags, result.flags
    assert all(items[i.grade_id].score == i.points for i in LAYER_ITEMS), \
        {g: r.score for g, r in items.items()}


def test_nnkit_grade_gives_no_unit5_credit_to_a_notebook_importing_the_reference_layers(tmp_path):
    borrowed = {"u5_flatten_impl": "from nnkit.layers.shape import flatten_forward, flatten_backward\n"}
    items, result = _graded_submission(tmp_path, borrowed)
    assert all(r.score == 0.0 for r in items.values()), {g: r.score for g, r in items.items()}
    assert "nnkit.layers" in (items["u5_conv_forward"].flag or ""), items["u5_conv_forward"].render()
