"""Unit 4, training in practice: the items of issue 14 (adaptive optimizers, symmetry, the student's training
loop, the hyperparameter search, learning-rate schedules and gradient clipping).

The checks live in one module per concept:

=========================  =========================================================================
``unit4_adaptive``         ``adagrad_step``, ``adadelta_step``: trajectories against ``nnkit.optim``
``unit4_symmetry``         ``train_tiny``, ``distinct_units``: zero initialisation and symmetry
``unit4_fit``              ``mlp_forward``, ``mlp_backward``, ``mlp_predict``, ``fit_mlp``: replayed training
``unit4_search``           ``select_config`` and ``predict_digits``: the search and the network it chose
``unit4_schedules``        ``step_decay_lr``, ``cosine_lr``, ``clip_by_global_norm``
=========================  =========================================================================
"""

from __future__ import annotations

from autograder.items import Item
from autograder.suites import unit4_adaptive as adaptive
from autograder.suites import unit4_fit as fit
from autograder.suites import unit4_schedules as schedules
from autograder.suites import unit4_search as search
from autograder.suites import unit4_symmetry as symmetry

ITEMS = [
    Item("u4_adagrad", 2, "adagrad_step", names=("adagrad_step",), checks=(adaptive.adagrad_matches_reference,),
         hidden_checks=(adaptive.adagrad_defaults_and_inputs, adaptive.adagrad_matches_reference)),
    Item("u4_adadelta", 2, "adadelta_step", names=("adadelta_step",), checks=(adaptive.adadelta_matches_reference,),
         hidden_checks=(adaptive.adadelta_defaults_and_other_settings,)),
    Item("u4_symmetry", 2, "train_tiny and the symmetry of equal starts", names=("train_tiny", "distinct_units"),
         checks=(symmetry.train_tiny_matches_reference, symmetry.distinct_units_counts, symmetry.symmetry_experiment),
         hidden_checks=(symmetry.equal_start_stays_symmetric, symmetry.distinct_units_counts)),
    Item("u4_fit", 5, "your training loop (mlp_forward, mlp_backward, mlp_predict, fit_mlp)",
         names=("mlp_forward", "mlp_backward", "mlp_predict", "fit_mlp"),
         checks=(fit.mlp_forward_backward, fit.fit_plain),
         hidden_checks=(fit.fit_dropout_and_early_stopping, fit.fit_plain), timeout=60),
    Item("u4_search", 3, "select_config chooses on the validation data", names=("select_config",),
         checks=(search.select_config_matches_replay,), hidden_checks=(search.select_config_follows_the_validation_data,),
         timeout=60),
    Item("u4_search_digits", 4, "the chosen network on held-out digits", names=("predict_digits",),
         checks=(search.digits_validation,), hidden_checks=(search.digits_test,)),
    Item("u4_schedule_clip", 3, "step_decay_lr, cosine_lr and clip_by_global_norm",
         names=("step_decay_lr", "cosine_lr", "clip_by_global_norm"),
         checks=(schedules.schedules_match, schedules.clipping_matches_torch_rule),
         hidden_checks=(schedules.clipping_edge_cases, schedules.schedules_match)),
]
