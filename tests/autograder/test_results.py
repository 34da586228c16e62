"""The result types: JSON round trips, the hidden-details rule, and the structured ``detail`` of a mismatch."""

import json

import numpy as np

from autograder.results import ItemResult, SubCheck, SubmissionResult, array_detail
from autograder.tester import Tester


def _through_json(d: dict) -> dict:
    return json.loads(json.dumps(d, allow_nan=False))


def _submission() -> SubmissionResult:
    visible = SubCheck("relu on a (2, 2) array", 0.0, False, ["1 of 4 values differ"], ["a named mistake"],
                       detail={"shape": [2, 2], "mismatch": [[False, True], [False, False]],
                               "expected": [[0.0, 1.5], [0.0, 2.0]], "got": [[0.0, "nan"], [0.0, 2.0]]})
    hidden = SubCheck("relu on a secret array", 0.5, True, ["input was 42"], ["hint without inputs"],
                      detail={"shape": [3], "mismatch": [True, False, False], "expected": [42.0, 1.0, 2.0],
                              "got": [41.0, 1.0, 2.0]})
    stub = SubCheck("sigmoid", 0.0, False, ["implement `sigmoid` first"], not_implemented="sigmoid")
    item = ItemResult("u1_relu", "relu(z)", 2.0, 0.5, [visible, hidden, stub], True, "a flag")
    written = ItemResult("u1_q", "why?", 2.0, 0.0, manual=True)
    return SubmissionResult("nb.ipynb", "unit1", "nb.ipynb", "ada", 0.5, 4.0, [item, written], None, ["f"],
                            ["n"], [{"name": "cell 1", "status": "ok", "message": ""}], 1.25, "namespace")


def test_submission_round_trips_through_json_with_hidden_details_shown():
    result = _submission()
    again = SubmissionResult.from_dict(_through_json(result.to_dict(show_hidden_details=True)))
    assert again == result
    assert again.to_dict(True) == result.to_dict(True)


def test_item_and_subcheck_round_trip_on_their_own():
    item = _submission().items[0]
    assert ItemResult.from_dict(_through_json(item.to_dict(True))) == item
    for sub in item.subchecks:
        assert SubCheck.from_dict(_through_json(sub.to_dict(True))) == sub


def test_hidden_details_and_values_are_left_out_unless_asked_for():
    d = _submission().to_dict()          # the default is what a student and the JSON on disk get
    visible, hidden, _ = d["items"][0]["subchecks"]
    assert visible["details"] == ["1 of 4 values differ"] and visible["detail"]["got"] == [[0.0, "nan"], [0.0, 2.0]]
    assert hidden["details"] == [] and hidden["diagnosis"] == ["hint without inputs"]
    assert hidden["detail"] == {"shape": [3]}    # which entries differ is chosen by the student's code: a channel
    assert "42" not in json.dumps(hidden)
    shown = _submission().to_dict(show_hidden_details=True)["items"][0]["subchecks"][1]
    assert shown["details"] == ["input was 42"] and shown["detail"]["expected"] == [42.0, 1.0, 2.0]


def test_a_reloaded_result_keeps_the_rule():
    """A result read back without its hidden details cannot leak them later either."""
    stored = SubmissionResult.from_dict(_through_json(_submission().to_dict()))
    assert "42" not in json.dumps(stored.to_dict(show_hidden_details=True))


def test_array_detail_keeps_values_only_for_small_visible_arrays():
    rng = np.random.default_rng(0)
    small = rng.normal(size=(4, 5))
    got = small.copy()
    got[1, 2] = np.inf
    mismatch = got != small
    d = array_detail(got, small, mismatch, hidden=False)
    assert d["shape"] == [4, 5] and d["mismatch"][1][2] is True and sum(map(sum, d["mismatch"])) == 1
    assert d["got"][1][2] == "inf" and d["expected"] == small.tolist()
    assert set(array_detail(got, small, mismatch, hidden=True)) == {"shape", "mismatch"}
    big = rng.normal(size=(21, 20))                           # 420 entries: a map, no values
    assert set(array_detail(big, big, big != big, hidden=False)) == {"shape", "mismatch"}
    huge = np.zeros((65, 64))                                 # 4160 entries: the shape only
    assert array_detail(huge, huge, huge != huge, hidden=False) == {"shape": [65, 64]}


def test_the_tester_fills_detail_for_failed_array_comparisons_only():
    t = Tester("g")
    x = np.linspace(-1.0, 1.0, 6).reshape(2, 3)
    off = x.copy()
    off[0, 1] += 1e-3
    t.close("same", x, x)
    t.close("off", off, x)
    t.equal("ints", np.array([1, 2, 4]), np.array([1, 2, 3]))
    same, wrong, ints = t.results
    assert same.detail is None
    assert wrong.detail["mismatch"] == [[False, True, False], [False, False, False]]
    assert wrong.detail["got"][0][1] == off[0, 1] and wrong.detail["expected"] == x.tolist()
    assert ints.detail == {"shape": [3], "mismatch": [False, False, True], "expected": [1, 2, 3], "got": [1, 2, 4]}


def test_hidden_checks_never_carry_values_in_their_detail():
    t = Tester("g", hidden=True, secret="s")
    x = t.rng.normal(size=(3, 3))
    t.close("secret", x + 1.0, x)
    assert set(t.results[0].detail) == {"shape", "mismatch"}


def test_a_failed_gradient_check_maps_where_it_differs():
    t = Tester("g")
    x = t.away_from_kinks((2, 3))
    dout = t.rng.normal(size=(2, 3))
    wrong = dout * (1 - np.tanh(x) ** 2)
    wrong[1, 0] *= 3.0                                        # one wrong entry
    assert not t.grad_matches_numeric("tanh", np.tanh, x, dout, wrong)
    detail = t.results[0].detail
    assert detail["mismatch"] == [[False, False, False], [True, False, False]]
    np.testing.assert_allclose(detail["expected"], dout * (1 - np.tanh(x) ** 2), rtol=1e-6)


def test_a_sampled_gradient_check_maps_only_the_coordinates_it_tried_and_shows_no_values():
    t = Tester("g")
    x = t.away_from_kinks((10, 10))                            # 100 entries: 64 are sampled
    assert not t.grad_matches_numeric("square", lambda v: v ** 2, x, np.ones_like(x), 3 * x)
    detail = t.results[0].detail
    assert set(detail) == {"shape", "mismatch", "checked"}
    checked, mismatch = np.array(detail["checked"]), np.array(detail["mismatch"])
    assert checked.shape == mismatch.shape == (10, 10) and int(checked.sum()) == 64
    assert mismatch.any() and not np.any(mismatch & ~checked)


def test_the_cells_nbgrader_autograde_writes_show_no_map_of_where_a_hidden_check_differs():
    """The student's code chooses which entries of a hidden check differ, so a map of them would carry a hidden
    input out; the visible check's map (and its marked grid) stays."""
    import nbformat

    from autograder import nbgrader_bridge

    hidden_map = [True, False, True, True, False, False, True, False] * 8          # 64 positions: a picture
    visible = SubCheck("dx on a visible (2, 2, 2, 2) batch", 0.0, False, ["2 of 16 values differ"],
                       detail={"shape": [2, 2, 2, 2], "mismatch": np.eye(4, dtype=bool).reshape(2, 2, 2, 2).tolist()})
    hidden = SubCheck("dx on a hidden (4, 16) array", 0.0, True, ["input was 42"],
                      detail={"shape": [4, 16], "mismatch": np.reshape(hidden_map, (4, 16)).tolist()})
    item = ItemResult("u1_relu", "relu(z)", 2.0, 0.0, [visible, hidden], True)
    result = SubmissionResult("nb.ipynb", "unit1", "nb.ipynb", "ada", 0.0, 2.0, [item], None, [], [], [], 1.0,
                              "namespace")
    cell = nbformat.v4.new_code_cell("check('u1_relu', globals())",
                                     metadata={"nbgrader": {"grade": True, "solution": False, "grade_id": "u1_relu",
                                                            "points": 2}})
    nb = nbformat.v4.new_notebook(cells=[cell])
    nbgrader_bridge.write_outputs(nb, result)
    page = nb.cells[0].outputs[0]["data"]["text/html"]
    assert page.count("data:image/png;base64,") == 1, page          # the visible check's map, not the hidden one's
    assert "(hidden) dx on a hidden (4, 16) array" in page and "input was 42" not in page
    from autograder.feedback_html import item_html
    assert item_html(item).count("data:image/png;base64,") == 2      # a student's own kernel: both maps
