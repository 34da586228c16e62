"""The notebooks use the library's names: each function or class a notebook defines that has a counterpart in
``nnkit`` takes the counterpart's parameters, with the same names, order, kinds and defaults (issue 16).

A student who leaves the notebook for the kit's library (or for PyTorch, whose names the library follows) meets
the same words: ``conv2d_forward(x, W, b, stride=1, padding=0)`` in both places, never ``conv_forward(..., pad)``.

The notebook side is parsed from ``solutions/<unit>/<unit>.ipynb`` with ``ast`` (nothing is executed); the
library side is ``inspect.signature`` of the live object. Parameters whose names start with ``_`` are private on
both sides and not compared. Where a notebook is deliberately simpler, its ``Pair`` says so: ``omits`` (library
parameters the notebook leaves out), ``adds`` (notebook parameters the library has not), ``required`` (library
defaults the notebook does not offer), ``kinds_differ`` (positional here, keyword-only there) and
``defaults_differ`` (another default value), each with a
``why``; and the notebook's own text must then name the library object, so that students read how the two map.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from dataclasses import dataclass

import pytest

from autograder.items import default_registry
from tests.notebooks import _kit

MISSING = "<no default>"


@dataclass(frozen=True)
class Pair:
    unit: str
    notebook: str            # "conv2d_forward", "Conv2d" (its __init__) or "Value.__pow__"
    library: str             # "module:qualname", e.g. "nnkit.layers.conv:conv2d_forward"
    omits: tuple[str, ...] = ()
    adds: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    kinds_differ: tuple[str, ...] = ()
    defaults_differ: tuple[str, ...] = ()
    why: str = ""

    @property
    def differs(self) -> bool:
        return bool(self.omits or self.adds or self.required or self.kinds_differ or self.defaults_differ)

    @property
    def library_dotted(self) -> str:
        """What the notebook's text must name when the pair differs: ``nnkit.autodiff.Value`` for a method too."""
        module, qualname = self.library.split(":")
        return f"{module}.{qualname.split('.')[0]}"


CONV, POOL, SHAPE, BN = "nnkit.layers.conv", "nnkit.layers.pool", "nnkit.layers.shape", "nnkit.layers.batchnorm"
FROM_RNG = "the notebook's layers draw their weights from a generator only; the kit's also take a seed and an init"
MEAN_ONLY = "the notebook's losses always average (reduction='mean'), which is all its training loop needs"
MODE_ARGUMENT = ("the course's layers take the mode as forward(x, training); the library's and PyTorch's keep it "
                 "in layer.training, set by .train()/.eval()")
STEP_ONLY = "unit 1's threshold units always use the step; the library's take an activation= option"

PAIRS = [
    Pair("unit5", "conv2d_forward", f"{CONV}:conv2d_forward"),
    Pair("unit5", "conv2d_forward_fast", f"{CONV}:conv2d_forward"),   # optional; returns out only
    Pair("unit5", "conv2d_backward", f"{CONV}:conv2d_backward"),
    Pair("unit5", "maxpool2d_forward", f"{POOL}:maxpool2d_forward"),
    Pair("unit5", "maxpool2d_backward", f"{POOL}:maxpool2d_backward"),
    Pair("unit5", "avgpool2d_forward", f"{POOL}:avgpool2d_forward"),
    Pair("unit5", "avgpool2d_backward", f"{POOL}:avgpool2d_backward"),
    Pair("unit5", "flatten_forward", f"{SHAPE}:flatten_forward"),
    Pair("unit5", "flatten_backward", f"{SHAPE}:flatten_backward"),
    Pair("unit5", "batchnorm_forward", f"{BN}:batchnorm_forward",
         omits=("axes", "mean", "var"), adds=("running_mean", "running_var", "training", "momentum"),
         kinds_differ=("eps",),
         why="the notebook's function also keeps the running statistics (PyTorch's F.batch_norm arguments); the "
             "library's normalises only, and its BatchNorm1d/2d layers keep the running statistics"),
    Pair("unit5", "batchnorm_backward", f"{BN}:batchnorm_backward"),
    Pair("unit5", "Conv2d", "nnkit.layers:Conv2d", omits=("init", "seed"), required=("rng",), why=FROM_RNG),
    Pair("unit5", "MaxPool2d", "nnkit.layers:MaxPool2d"),
    Pair("unit5", "AvgPool2d", "nnkit.layers:AvgPool2d"),
    Pair("unit5", "Flatten", "nnkit.layers:Flatten"),
    Pair("unit5", "ReLU", "nnkit.layers:ReLU"),
    Pair("unit5", "Linear", "nnkit.layers:Linear", omits=("init", "seed"), required=("rng",), why=FROM_RNG),
    Pair("unit5", "Sequential", "nnkit.layers:Sequential"),
    Pair("unit5", "cross_entropy", "nnkit.losses:cross_entropy", omits=("reduction",),
         why="the given training loop always averages over the batch"),
    Pair("unit5", "Adam", "nnkit.optim:Adam", omits=("weight_decay", "amsgrad", "decay", "maximize"),
         why="plain Adam, as written in unit 4"),
    Pair("unit2", "Value", "nnkit.autodiff:Value", omits=("label",),
         why="the library's label names a node in drawn graphs; the notebook's engine draws none"),
    Pair("unit2", "Value.backward", "nnkit.autodiff:Value.backward", omits=("grad",),
         why="the notebook's backward always starts from d(self)/d(self) = 1"),
    *[Pair("unit2", f"Value.{m}", f"nnkit.autodiff:Value.{m}")
      for m in ("__add__", "__mul__", "__pow__", "exp", "log", "tanh", "sigmoid", "__neg__", "__sub__",
                "__truediv__", "__radd__", "__rmul__", "__rsub__", "__rtruediv__")],
    Pair("unit2", "Dual", "nnkit.autodiff:Dual"),
    *[Pair("unit2", f"Dual.{m}", f"nnkit.autodiff:Dual.{m}")
      for m in ("__add__", "__mul__", "__pow__", "exp", "tanh", "sigmoid", "__neg__", "__sub__", "__truediv__",
                "__radd__", "__rmul__", "__rsub__", "__rtruediv__")],
    Pair("unit2", "log_softmax", "nnkit.activations:log_softmax"),
    Pair("unit2", "add_bias", "nnkit.perceptron:add_bias"),
    *[Pair("unit3", name, f"nnkit.activations:{name}")
      for name in ("sigmoid", "sigmoid_grad", "tanh", "tanh_grad", "relu", "relu_grad", "leaky_relu",
                   "leaky_relu_grad", "elu", "elu_grad", "gelu", "gelu_grad", "softmax")],
    *[Pair("unit3", name, f"nnkit.losses:{name}", omits=("reduction",), why=MEAN_ONLY)
      for name in ("mse", "mae", "binary_cross_entropy_with_logits", "cross_entropy")],
    Pair("unit3", "numeric_grad", "nnkit.gradcheck:numeric_grad"),
    Pair("unit3", "rel_error", "nnkit.gradcheck:rel_error"),
    Pair("unit3", "Layer", "nnkit.layers:Layer"),
    *[Pair("unit3", f"{cls}.forward", "nnkit.layers:Layer.forward", adds=("training",), why=MODE_ARGUMENT)
      for cls in ("Layer", "Linear", "Sigmoid", "Tanh", "ReLU", "Sequential")],
    *[Pair("unit3", f"{cls}.{m}", f"nnkit.layers:{cls}.{m}")
      for cls in ("Linear", "Sigmoid", "Tanh", "ReLU", "Sequential") for m in ("backward", "parameters")],
    Pair("unit3", "Linear", "nnkit.layers:Linear", omits=("init", "rng"), kinds_differ=("seed",),
         defaults_differ=("seed",),
         why="the notebook's Linear draws W ~ N(0, 1/D) from a seed (0 unless given); the kit's also takes an "
             "init name or a generator, and is unseeded by default"),
    Pair("unit3", "Sigmoid", "nnkit.layers:Sigmoid"),
    Pair("unit3", "Tanh", "nnkit.layers:Tanh"),
    Pair("unit3", "ReLU", "nnkit.layers:ReLU"),
    Pair("unit3", "Sequential", "nnkit.layers:Sequential"),
    Pair("unit4", "Layer", "nnkit.layers:Layer"),
    Pair("unit4", "Linear", "nnkit.layers:Linear", omits=("init", "rng"), kinds_differ=("seed",),
         defaults_differ=("seed",), why="unit 3's Linear, given again: W ~ N(0, 1/D) from a seed (0 unless given)"),
    *[Pair("unit4", cls, f"nnkit.layers:{cls}") for cls in ("Sigmoid", "Tanh", "ReLU", "Sequential")],
    *[Pair("unit4", name, f"nnkit.losses:{name}", omits=("reduction",), why=MEAN_ONLY)
      for name in ("mse", "cross_entropy")],
    *[Pair("unit4", name, f"nnkit.init:{name}", adds=("fan_in", "fan_out"), omits=("shape", "rng", *gain),
           kinds_differ=("seed",),
           why="the notebook's initialisers take the two fans of a (fan_in, fan_out) matrix; the library's take "
               "the whole shape (a conv kernel's fans include its area) and a keyword-only seed or generator")
      for name, gain in (("he_normal", ()), ("xavier_uniform", ("gain",)))],
    *[Pair("unit4", name, f"nnkit.optim:{name}", adds=("W",), omits=("params", "decay"),
           why="the notebook penalises one weight array; the library's take a model's (params, grads) pairs and "
               "choose which arrays decay")
      for name in ("l2_penalty", "l1_penalty")],
    Pair("unit1", "heaviside", "nnkit.activations:heaviside"),
    Pair("unit1", "sigmoid", "nnkit.activations:sigmoid"),
    Pair("unit1", "add_bias", "nnkit.perceptron:add_bias"),
    Pair("unit1", "tlu_predict", "nnkit.perceptron:tlu_predict", omits=("activation",), why=STEP_ONLY),
    Pair("unit1", "perceptron_step", "nnkit.perceptron:perceptron_step", omits=("activation",), why=STEP_ONLY),
    Pair("unit1", "train_perceptron", "nnkit.perceptron:train_perceptron", omits=("shuffle", "seed", "activation"),
         why="the notebook's loop shows the examples in data order through the step; the library can also shuffle "
             "them and swap the activation (and returns a PerceptronResult, not a tuple)"),
    Pair("unit1", "gate_neuron", "nnkit.logic:neuron"),
    Pair("unit1", "xor_network", "nnkit.logic:xor_network", omits=("return_hidden",),
         why="the notebook's network returns its output only; the library's can also hand back the hidden layer"),
    Pair("unit1", "delta_rule", "nnkit.perceptron:delta_rule", omits=("mode", "shuffle", "seed"),
         why="the notebook writes the batch form only; the library also has the online form, with shuffling"),
]

# Names a graded item of these units asks for that the library has no counterpart of, and why.
NO_COUNTERPART = {
    "unit5": {"conv_output_size": "the library's output-size helper is private (nnkit.layers.conv._output_size)",
              "predict_digits": "the student's trained network, graded on held-out digits"},
    "unit2": {"graph_example_1": "the lecture's worked examples", "graph_example_2": "the lecture's worked examples",
              "train_neuron": "a training loop on the student's own engine",
              "softmax_classifier": "the lecture's layer-by-layer classifier"},
    "unit3": {"gradient_check": "one relative error for a given analytic gradient; the library's "
                                  "nnkit.gradcheck.check_function takes df as a function and returns a result",
              "train": "a whole training loop by loss name and lr; the library's is nnkit.train.fit(model, loss, "
                       "optimizer, data, ...)",
              "probe": "the notebook's test function for gradient checkers",
              "output_layer_for": "a lecture question (which output layer and loss for a task)",
              "minibatch_indices": "the library shuffles inside nnkit.train.fit",
              "reg_net": "the student's trained network", "xor_net": "the student's trained network",
              "make_mlp": "the unit's capacity experiment", "heldout_mse": "the unit's capacity experiment",
              "predict_digits": "the student's trained network, graded on held-out digits"},
    "unit4": {**{name: "one optimizer step written out; the library's optimizers are classes (nnkit.optim.SGD, Adam, ...)"
                 for name in ("sgd_step", "momentum_step", "nesterov_step", "adagrad_step", "rmsprop_step",
                              "adadelta_step", "adam_step")},
              "max_norm": "returns a new array; the library's nnkit.optim.max_norm_(W, max_norm, axis=0) works in "
                          "place (PyTorch's trailing _), which the notebook's text says",
              "clip_by_global_norm": "returns (new arrays, norm); the library's nnkit.optim.clip_grad_norm_ scales "
                                     "in place and returns the norm, which the notebook's text says",
              "step_decay_lr": "a schedule as a formula; the kit has no scheduler",
              "cosine_lr": "a schedule as a formula; the kit has no scheduler",
              "layer_grad_norms": "the unit's vanishing-gradient experiment",
              "train_tiny": "the unit's symmetry experiment", "distinct_units": "the unit's symmetry experiment",
              "dropout_forward": "a pure function; the library's dropout is the nnkit.layers.Dropout layer",
              "dropout_backward": "a pure function; the library's dropout is the nnkit.layers.Dropout layer",
              "early_stopping": "a pure function of the validation losses; nnkit.train.fit(patience=) does it inside",
              **{name: "the student's own training loop on parameter lists (the library's is nnkit.train.fit)"
                 for name in ("mlp_forward", "mlp_backward", "mlp_predict", "fit_mlp")},
              "select_config": "the unit's hyperparameter search",
              "predict_digits": "the student's trained network, graded on held-out digits"},
    "unit1": {name: "gate weights the student chooses by hand (the library builds gates with nnkit.logic.gate)"
              for name in ("W_AND", "W_OR", "W_NAND", "W_NOT")},
}
UNITS = sorted(NO_COUNTERPART)
LIBRARY_MODULES = ("nnkit.layers", CONV, POOL, SHAPE, BN, "nnkit.losses", "nnkit.activations", "nnkit.autodiff",
                   "nnkit.optim", "nnkit.perceptron", "nnkit.logic", "nnkit.gradcheck", "nnkit.init", "nnkit.train",
                   "nnkit.data")


# -- the two sides --------------------------------------------------------------------------------------------
def notebook_definitions(nb) -> dict[str, ast.FunctionDef | ast.ClassDef]:
    """Top-level functions and classes of every code cell, by name (a later cell's definition wins, as in a kernel)."""
    found = {}
    for cell in nb.cells:
        if cell.cell_type == "code":
            for node in ast.parse(cell.source).body:
                if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                    found[node.name] = node
    return found


def _method(cls: ast.ClassDef, name: str, defs: dict) -> ast.FunctionDef | None:
    """``cls``'s method ``name``, looked up through base classes defined in the same notebook."""
    for node in cls.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return node
    for base in cls.bases:
        if isinstance(base, ast.Name) and isinstance(defs.get(base.id), ast.ClassDef):
            found = _method(defs[base.id], name, defs)
            if found is not None:
                return found
    return None


def _default(node: ast.expr):
    try:
        return ast.literal_eval(node)
    except ValueError:
        return ast.unparse(node)


def notebook_params(defs: dict, name: str) -> list[tuple[str, str, object]]:
    """``(name, kind, default)`` of the notebook's ``name``: a function, a class (its ``__init__``) or ``Cls.method``."""
    owner, _, method = name.partition(".")
    node = defs[owner]
    if isinstance(node, ast.ClassDef):
        node = _method(node, method or "__init__", defs)
        if node is None:                       # no __init__ anywhere: object's, which takes nothing
            return []
    args = node.args
    positional = args.posonlyargs + args.args
    defaults = [MISSING] * (len(positional) - len(args.defaults)) + [_default(d) for d in args.defaults]
    params = [(a.arg, "positional", d) for a, d in zip(positional, defaults)]
    if args.vararg:
        params.append((args.vararg.arg, "var_positional", MISSING))
    params += [(a.arg, "keyword_only", MISSING if d is None else _default(d))
               for a, d in zip(args.kwonlyargs, args.kw_defaults)]
    if args.kwarg:
        params.append((args.kwarg.arg, "var_keyword", MISSING))
    if isinstance(defs[owner], ast.ClassDef) and params and params[0][0] == "self":
        params = params[1:]
    return [p for p in params if not p[0].startswith("_")]


KINDS = {inspect.Parameter.POSITIONAL_ONLY: "positional", inspect.Parameter.POSITIONAL_OR_KEYWORD: "positional",
         inspect.Parameter.VAR_POSITIONAL: "var_positional", inspect.Parameter.KEYWORD_ONLY: "keyword_only",
         inspect.Parameter.VAR_KEYWORD: "var_keyword"}


def library_object(path: str):
    module, qualname = path.split(":")
    obj = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def library_params(path: str) -> list[tuple[str, str, object]]:
    """``(name, kind, default)`` of the library object (a class gives its constructor's, without ``self``)."""
    obj = library_object(path)
    params = list(inspect.signature(obj).parameters.values())
    if inspect.isfunction(obj) and "." in path.split(":")[1] and params and params[0].name == "self":
        params = params[1:]
    return [(p.name, KINDS[p.kind], MISSING if p.default is inspect.Parameter.empty else p.default)
            for p in params if not p.name.startswith("_")]


def mismatches(pair: Pair, defs: dict) -> list[str]:
    """What differs between the notebook's and the library's parameters beyond the pair's stated allowances."""
    if pair.notebook.split(".")[0] not in defs:
        return [f"the {pair.unit} notebook defines no {pair.notebook.split('.')[0]}"]
    ours = [p for p in notebook_params(defs, pair.notebook) if p[0] not in pair.adds]
    theirs = [p for p in library_params(pair.library) if p[0] not in pair.omits]
    theirs = [(n, k, MISSING if n in pair.required else d) for n, k, d in theirs]
    problems = []
    if [p[0] for p in ours] != [p[0] for p in theirs]:
        problems.append(f"parameter names {[p[0] for p in ours]}, the library's {[p[0] for p in theirs]}")
    else:
        for (name, kind, default), (_, their_kind, their_default) in zip(ours, theirs):
            if kind != their_kind and name not in pair.kinds_differ:
                problems.append(f"{name} is {kind} here, {their_kind} in the library")
            if default != their_default and name not in pair.defaults_differ:
                problems.append(f"{name} defaults to {default!r} here, to {their_default!r} in the library")
    stated = set(pair.adds) - {p[0] for p in notebook_params(defs, pair.notebook)}
    stated |= set(pair.omits + pair.required + pair.kinds_differ + pair.defaults_differ) - {
        p[0] for p in library_params(pair.library)}
    if stated:
        problems.append(f"the pair names {sorted(stated)}, which do not exist (stale allowance)")
    return [f"{pair.unit} {pair.notebook} vs {pair.library}: {p}" for p in problems]


@pytest.fixture(scope="module")
def notebooks():
    return {unit: _kit.read_notebook(_kit.solution_notebook_path(unit)) for unit in UNITS}


@pytest.fixture(scope="module")
def definitions(notebooks):
    return {unit: notebook_definitions(nb) for unit, nb in notebooks.items()}


# -- the tests ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("pair", PAIRS, ids=lambda p: f"{p.unit}-{p.notebook}")
def test_notebook_parameters_equal_the_librarys(pair, definitions):
    problems = mismatches(pair, definitions[pair.unit])
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("pair", [p for p in PAIRS if p.differs], ids=lambda p: f"{p.unit}-{p.notebook}")
def test_a_deliberate_difference_has_a_reason_and_the_notebook_names_the_library_object(pair, notebooks):
    assert len(pair.why) > 20, f"{pair.notebook}: say why the notebook differs from {pair.library}"
    text = "\n".join(cell.source for cell in notebooks[pair.unit].cells)
    assert pair.library_dotted in text, (
        f"{pair.unit} differs from {pair.library_dotted} ({pair.why}) but its text never names it: say there how "
        f"the notebook's {pair.notebook} maps to the library")


@pytest.mark.parametrize("unit", UNITS)
def test_every_graded_name_is_paired_or_has_no_counterpart(unit):
    prefix = "u" + re.sub(r"\D", "", unit) + "_"
    graded = {name for item in default_registry() if item.grade_id.startswith(prefix) for name in item.names}
    paired = {p.notebook.split(".")[0] for p in PAIRS if p.unit == unit}
    unexplained = graded - paired - set(NO_COUNTERPART[unit])
    assert not unexplained, f"{unit}: graded names with no Pair and no NO_COUNTERPART entry: {sorted(unexplained)}"
    stale = set(NO_COUNTERPART[unit]) - graded
    assert not stale, f"{unit}: NO_COUNTERPART lists names no item grades: {sorted(stale)}"


@pytest.mark.parametrize("unit", UNITS)
def test_every_notebook_definition_named_like_a_library_object_is_paired(unit, notebooks, definitions):
    # A notebook function that shares a library name but is missing from PAIRS would escape the comparison.
    public = {name for module in LIBRARY_MODULES for name in dir(importlib.import_module(module))
              if not name.startswith("_")}
    defs = definitions[unit]
    paired = {p.notebook for p in PAIRS if p.unit == unit}
    unpaired = sorted(name for name in defs if name in public and name not in paired)
    assert not unpaired, f"{unit} defines {unpaired}, named like library objects, with no Pair"
    # ... and every method of a class the students write (the given layers of unit 5 keep the course's
    # forward(x, training) protocol, which their text compares with the library's .train()/.eval()).
    written = {node.name for cell in notebooks[unit].cells if _kit.nbgrader_meta(cell).get("solution")
               and cell.cell_type == "code" for node in ast.parse(cell.source).body if isinstance(node, ast.ClassDef)}
    for pair in [p for p in PAIRS if p.unit == unit and p.notebook in written]:
        theirs = library_object(pair.library)
        methods = [n.name for n in defs[pair.notebook].body if isinstance(n, ast.FunctionDef)
                   and n.name not in ("__init__", "__repr__") and not re.fullmatch(r"_[^_].*", n.name)]
        missing = [m for m in methods if hasattr(theirs, m) and f"{pair.notebook}.{m}" not in paired]
        assert not missing, f"{unit}: methods of {pair.notebook} that the library also has, with no Pair: {missing}"


def test_the_comparison_catches_an_old_name_and_an_unstated_difference(notebooks):
    # The rule must be able to fail: the unit-5 notebook with `pad` back, and with a pair's allowance dropped.
    nb = notebooks["unit5"]
    cell = next(c for c in nb.cells if _kit.nbgrader_meta(c).get("grade_id") == "u5_conv_forward_impl")
    original = cell.source
    try:
        cell.source = original.replace("def conv2d_forward(x, W, b, stride=1, padding=0):",
                                       "def conv2d_forward(x, W, b, stride=1, pad=0):")
        assert cell.source != original
        problems = mismatches(Pair("unit5", "conv2d_forward", f"{CONV}:conv2d_forward"), notebook_definitions(nb))
        assert problems and "'pad'" in problems[0] and "'padding'" in problems[0], problems
    finally:
        cell.source = original
    defs = notebook_definitions(nb)
    conv = next(p for p in PAIRS if p.notebook == "Conv2d")
    assert not mismatches(conv, defs)
    assert mismatches(Pair("unit5", "Conv2d", conv.library, omits=conv.omits), defs)     # rng's default
    assert mismatches(Pair("unit5", "Conv2d", conv.library, required=("rng",)), defs)    # init and seed
    assert mismatches(Pair("unit5", "maxpool2d_forward", f"{POOL}:maxpool2d_forward", omits=("stride",)), defs)


def test_the_comparison_catches_a_positional_option_and_the_old_target_name(notebooks):
    # Unit 1's train_perceptron as it was: (X, Y, lr=0.1, ...) where the library has (X, y, *, lr=0.1, ...).
    nb = notebooks["unit1"]
    cell = next(c for c in nb.cells if _kit.nbgrader_meta(c).get("grade_id") == "u1_train_perceptron_impl")
    pair = next(p for p in PAIRS if p.unit == "unit1" and p.notebook == "train_perceptron")
    original = cell.source
    try:
        for old_signature, expected in [("(X, Y, *, lr=0.1,", "'Y'"), ("(X, y, lr=0.1,", "lr is positional")]:
            cell.source = original.replace("(X, y, *, lr=0.1,", old_signature)
            assert cell.source != original
            problems = mismatches(pair, notebook_definitions(nb))
            assert problems and expected in problems[0], problems
    finally:
        cell.source = original
    assert not mismatches(pair, notebook_definitions(nb))


def test_the_comparison_catches_a_sequential_that_takes_a_list(notebooks):
    # Unit 3's Sequential as it was: Sequential([Linear(...), Tanh(), ...]) where the library and PyTorch take
    # Sequential(Linear(...), Tanh(), ...).
    nb = notebooks["unit3"]
    cell = next(c for c in nb.cells if _kit.nbgrader_meta(c).get("grade_id") == "u3_sequential_impl")
    pair = next(p for p in PAIRS if p.unit == "unit3" and p.notebook == "Sequential")
    original = cell.source
    try:
        cell.source = original.replace("def __init__(self, *layers):", "def __init__(self, layers):")
        assert cell.source != original
        problems = mismatches(pair, notebook_definitions(nb))
        assert problems and "var_positional" in problems[0], problems
    finally:
        cell.source = original
    assert not mismatches(pair, notebook_definitions(nb))
    linear = next(p for p in PAIRS if p.unit == "unit3" and p.notebook == "Linear")
    defs = notebook_definitions(nb)
    assert not mismatches(linear, defs)
    assert mismatches(Pair("unit3", "Linear", linear.library, omits=linear.omits, kinds_differ=("seed",)), defs)
    assert mismatches(Pair("unit3", "Linear", linear.library, omits=linear.omits, defaults_differ=("seed",)), defs)
