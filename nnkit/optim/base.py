"""The optimizer base class and the checks every optimizer shares.

An optimizer sees a network only as ``(params, grads)`` pairs of dicts (the
Layer protocol of :mod:`nnkit.layers.base`). It keeps a reference to each pair,
so on every :meth:`Optimizer.step` it reads the *current* ``grads[k]`` (a layer's
``backward`` or ``zero_grad`` may have replaced the array) and writes into the
*current* ``params[k]`` in place (the layer uses that very array in ``forward``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable

import numpy as np

from nnkit import _validate as check

Pair = tuple[dict[str, np.ndarray], dict[str, np.ndarray]]


def resolve_pairs(parameters: object, where: str) -> list[Pair]:
    """The ``(params, grads)`` pairs of a Layer-like object or of an explicit list.

    Accepts an object with a ``parameters()`` method (a Layer, a Sequential), a
    list or tuple of ``(params, grads)`` pairs, or one such pair.
    """
    if callable(getattr(parameters, "parameters", None)):
        pairs = list(parameters.parameters())
    elif _is_pair(parameters):
        pairs = [parameters]
    elif isinstance(parameters, (list, tuple)):
        pairs = list(parameters)
    else:
        raise TypeError(f"{where}: parameters must be a Layer (with .parameters()) or a list of (params, grads) "
                        f"dict pairs, got {type(parameters).__name__}")
    for i, pair in enumerate(pairs):
        if not _is_pair(pair):
            raise TypeError(f"{where}: parameters[{i}] must be a (params, grads) pair of dicts, got {_describe(pair)}")
    return pairs


def _is_pair(obj: object) -> bool:
    return isinstance(obj, tuple) and len(obj) == 2 and all(isinstance(d, dict) for d in obj)


def _describe(obj: object) -> str:
    if isinstance(obj, tuple):
        return f"a tuple of {len(obj)} ({', '.join(type(o).__name__ for o in obj)})"
    return type(obj).__name__


def check_param_arrays(pairs: list[Pair], where: str) -> None:
    """Every param is a writeable float ndarray, and no array or dict appears twice."""
    seen_dicts: set[int] = set()
    seen_arrays: dict[int, str] = {}
    for i, (params, _) in enumerate(pairs):
        if id(params) in seen_dicts:
            raise ValueError(f"{where}: parameters[{i}] repeats a params dict that appears earlier")
        seen_dicts.add(id(params))
        for name, value in params.items():
            label = f"parameters[{i}] param {name!r}"
            check.in_place(value, where, label)
            if id(value) in seen_arrays:
                raise ValueError(f"{where}: {label} is the same array as {seen_arrays[id(value)]}")
            seen_arrays[id(value)] = label


def check_grad(grads: dict, name: str, param: np.ndarray, where: str, label: str) -> np.ndarray:
    """``grads[name]``, which must exist, be a real array shaped like the param, and be finite."""
    if name not in grads:
        raise ValueError(f"{where}: no gradient for {label}: grads has keys {sorted(grads)}; run backward() first")
    return check.real_array(grads[name], where, f"gradient for {label}", str(param.shape), ndarray=True)


def decay_selector(decay: object, where: str) -> Callable[[str, np.ndarray], bool]:
    """Turn the ``decay`` argument into a test ``(name, array) -> bool``.

    ``"weights"`` selects arrays with two or more dimensions (dense ``W (D, M)``,
    conv ``W (F, C, HH, WW)``) and so leaves out biases and batch-norm
    ``gamma``/``beta``; ``"all"`` selects every array (PyTorch's behaviour); a
    collection of names such as ``{"W"}`` selects those names.
    """
    if decay == "weights":
        return lambda name, value: value.ndim >= 2
    if decay == "all":
        return lambda name, value: True
    if isinstance(decay, str) or not isinstance(decay, Iterable):
        raise ValueError(f"{where}: decay must be 'weights', 'all' or a collection of param names, got {decay!r}")
    names = frozenset(decay)
    if not all(isinstance(n, str) for n in names):
        raise TypeError(f"{where}: decay names must be strings, got {sorted(map(repr, names))}")
    return lambda name, value: name in names


def check_decay_names(decay: object, pairs: list[Pair], where: str) -> None:
    """A named selection must name arrays that exist (catches typos such as ``{"w"}``)."""
    if decay in ("weights", "all"):
        return
    known = {name for params, _ in pairs for name in params}
    unknown = sorted(set(decay) - known)
    if unknown:
        raise ValueError(f"{where}: decay names {unknown} match no param; the params are named {sorted(known)}")


class Optimizer:
    """Base class: parameter handling, ``step``, ``zero_grad`` and the state dict.

    Subclasses list their hyperparameters in ``HYPERPARAMETERS``, check them in
    ``_check_hyperparameters`` and update one array in ``_update``.

    Attributes
    ----------
    pairs : list of (dict, dict)
        The ``(params, grads)`` pairs being optimised (references, not copies).
    state : list of dict
        Per pair, per param name, the optimizer's running quantities
        (``step``, moment estimates, ...), created on the first ``step``.

    Each hyperparameter is a plain attribute (``opt.lr``), which may be
    changed between steps, for example by a learning-rate schedule. Every
    optimizer takes ``maximize=True`` (PyTorch's): the gradient is negated
    before anything else, so the step climbs the objective.
    """

    HYPERPARAMETERS: tuple[str, ...] = ()

    def __init__(self, parameters: object, decay: object = "weights", maximize: bool = False) -> None:
        where = f"{type(self).__name__}"
        self.pairs = resolve_pairs(parameters, where)
        if not any(params for params, _ in self.pairs):
            raise ValueError(f"{where}: got no parameters to optimise (empty list or parameter-free layers)")
        check_param_arrays(self.pairs, where)
        self._decays = decay_selector(decay, where)
        check_decay_names(decay, self.pairs, where)
        self.decay = decay if isinstance(decay, str) else sorted(decay)
        self.state: list[dict[str, dict]] = [{} for _ in self.pairs]
        self.maximize = maximize
        self._check_all()

    def _check_all(self) -> None:
        self._check_hyperparameters()
        self.maximize = check.flag(self.maximize, type(self).__name__, "maximize")

    def _check_hyperparameters(self) -> None:
        raise NotImplementedError

    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict, decayed: bool) -> None:
        raise NotImplementedError

    def step(self) -> None:
        """Update every param in place from its current gradient.

        All gradients are checked before any param changes, so a bad gradient
        leaves the params and the optimizer state untouched.
        """
        where = f"{type(self).__name__}.step"
        work = []
        for i, (params, grads) in enumerate(self.pairs):
            for name, param in params.items():
                label = f"parameters[{i}] param {name!r}"
                work.append((i, name, param, check_grad(grads, name, param, where, label)))
        for i, name, param, grad in work:
            state = self.state[i].setdefault(name, {})
            grad = np.asarray(grad, dtype=np.float64)
            self._update(param, -grad if self.maximize else grad, state, self._decays(name, param))

    def zero_grad(self) -> None:
        """Replace every gradient by fresh zeros shaped like its param (the old arrays are left alone)."""
        for params, grads in self.pairs:
            for name, param in params.items():
                grads[name] = np.zeros_like(param)

    def state_dict(self) -> dict:
        """A copy of the hyperparameters and the running state, as plain data.

        Returns
        -------
        dict
            ``{"optimizer": class name, "hyperparameters": {name: number, bool
            or tuple}, "decay": str or list of names, "state": [per pair {param
            name: {quantity: ndarray or int}}]}``. Arrays are copies, so later
            steps do not change a saved dict.
        """
        return {
            "optimizer": type(self).__name__,
            "hyperparameters": {name: getattr(self, name) for name in self.HYPERPARAMETERS},
            "decay": copy.copy(self.decay),
            "state": [
                {name: {key: _copy_value(v) for key, v in slot.items()} for name, slot in pair_state.items()}
                for pair_state in self.state
            ],
        }

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore hyperparameters and running state saved by :meth:`state_dict` (copies are taken).

        Numbers may arrive as 0-d arrays (for example after a round trip through
        ``np.savez``); they are converted back. The params themselves are not
        part of the state dict: restore them separately.
        """
        where = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, dict) or state_dict.get("optimizer") != type(self).__name__:
            got = state_dict.get("optimizer") if isinstance(state_dict, dict) else type(state_dict).__name__
            raise ValueError(f"{where}: expected a state dict saved by {type(self).__name__}, got one from {got!r}")
        missing = sorted({"hyperparameters", "state"} - set(state_dict))
        if missing:
            raise ValueError(f"{where}: the state dict lacks {missing}")
        decay = state_dict.get("decay", self.decay)
        if isinstance(decay, np.ndarray):
            decay = decay.tolist()
        decays = decay_selector(decay, where)
        check_decay_names(decay, self.pairs, where)
        new_state = self._restored_state(state_dict["state"], where)
        self._load_hyperparameters(state_dict["hyperparameters"], where)
        self._decays, self.decay = decays, decay if isinstance(decay, str) else sorted(decay)
        self.state = new_state

    def _restored_state(self, saved_state: list, where: str) -> list[dict[str, dict]]:
        """Copies of the saved per-pair state, checked against the params' names and shapes."""
        if len(saved_state) != len(self.pairs):
            raise ValueError(f"{where}: the state dict has {len(saved_state)} param pairs, this optimizer has "
                             f"{len(self.pairs)}")
        new_state = []
        for i, (pair_state, (params, _)) in enumerate(zip(saved_state, self.pairs)):
            extra = sorted(set(pair_state) - set(params))
            if extra:
                raise ValueError(f"{where}: state for parameters[{i}] names {extra}, which are not params there")
            restored = {name: {key: _restore_value(v) for key, v in slot.items()} for name, slot in pair_state.items()}
            for name, slot in restored.items():
                _check_state_shapes(slot, params[name], where, f"parameters[{i}] param {name!r}")
            new_state.append(restored)
        return new_state

    def _load_hyperparameters(self, saved: dict, where: str) -> None:
        """Set the saved hyperparameters, or none of them if any is unknown or invalid."""
        unknown = sorted(set(saved) - set(self.HYPERPARAMETERS))
        if unknown:
            raise ValueError(f"{where}: unknown hyperparameters {unknown}; expected {list(self.HYPERPARAMETERS)}")
        old = {name: getattr(self, name) for name in self.HYPERPARAMETERS}
        for name, value in saved.items():
            setattr(self, name, _restore_value(value))
        try:
            self._check_all()
        except (TypeError, ValueError):
            for name, value in old.items():
                setattr(self, name, value)
            raise

    def __repr__(self) -> str:
        hyper = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.HYPERPARAMETERS)
        return f"{type(self).__name__}({hyper}, decay={self.decay!r})"


def _check_state_shapes(state: dict, param: np.ndarray, where: str, label: str) -> None:
    for key, value in state.items():
        if isinstance(value, np.ndarray) and value.shape != param.shape:
            raise ValueError(f"{where}: state {key!r} for {label} has shape {value.shape}, the param {param.shape}")


def _copy_value(value: object) -> object:
    return value.copy() if isinstance(value, np.ndarray) else value


def _restore_value(value: object) -> object:
    """A copy of a saved value; 0-d arrays and NumPy scalars become Python numbers again."""
    if isinstance(value, (np.ndarray, np.generic)) and np.ndim(value) == 0:
        return value.item()
    if isinstance(value, np.ndarray):
        return np.array(value, dtype=np.float64)
    if isinstance(value, (list, tuple)):
        return tuple(_restore_value(v) for v in value)
    return value
