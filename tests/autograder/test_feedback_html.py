"""The HTML feedback: one table per item, coloured by outcome, values side by side, a heat map of where an
array differs, hidden values withheld, everything from the student escaped."""

import base64
import re

import numpy as np
import pytest

from autograder import feedback_figure, feedback_html
from autograder.feedback_html import Feedback, figure_html, item_html, safe_item_html
from autograder.handle import LocalHandle
from autograder.results import ItemResult, SubCheck
from autograder.runner import run_item
from tests.autograder import fixture_assignment as fx

PNG_SRC = re.compile(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'")


def _sub(what, credit, *, hidden=False, details=(), diagnosis=(), detail=None):
    sub = SubCheck(what, credit, hidden, list(details), list(diagnosis))
    sub.detail = detail
    return sub


def _array_detail(expected, got, *, values=True):
    detail = {"shape": list(expected.shape), "mismatch": (~np.isclose(got, expected)).tolist()}
    if values:
        detail.update(expected=expected.tolist(), got=got.tolist())
    return detail


def _border_case():
    """A (2, 3, 6, 5) gradient that is wrong on the first row and the last column of every map."""
    expected = np.random.default_rng(5).normal(size=(2, 3, 6, 5))
    got = expected.copy()
    got[:, :, 0, :] += 1.0
    got[:, :, :, -1] -= 2.0
    return expected, got


def _result():
    e = np.array([[1.0, 2.0], [3.0, 4.0]])
    g = np.array([[1.0, 2.0], [3.0, 8.5]])
    subs = [_sub("forward on a (2, 2) array", 1.0),
            _sub("backward <b>", 0.0, details=["1 of 4 values differ", "expected [1., 2.]", "got      [2., 4.]"],
                 diagnosis=["your result is exactly 2x the expected"]),
            _sub("values", 0.0, details=["1 of 4 values differ"], detail=_array_detail(e, g)),
            _sub("secret case", 0.0, hidden=True, details=["input was 42"], diagnosis=["a named mistake"])]
    return ItemResult("u9_demo", "demo <item>", 4.0, 1.0, subs, True)


def _pngs(page: str) -> list[bytes]:
    return [base64.b64decode(m) for m in PNG_SRC.findall(page)]


# -- the table ------------------------------------------------------------------------------------------------

def test_one_row_per_subcheck_coloured_by_outcome_under_the_text_reports_headline():
    page = _result()._repr_html_()
    assert page.count("<tr style='background:") == 4
    assert page.count(f"background:{feedback_html.COLOURS['ok'][0]}") == 1
    assert page.count(f"<tr style='background:{feedback_html.COLOURS['fail'][0]}'") == 3
    assert ">FAIL</td>" in page and ">ok</td>" in page
    # the same words as the text report, so a search for the headline finds both
    assert "u9_demo -- demo &lt;item&gt;: 1 / 4 points" in page
    assert _result().render().splitlines()[0] == "u9_demo -- demo <item>: 1 / 4 points"


def test_hints_come_first_in_a_highlighted_box():
    page = _result()._repr_html_()
    box = f"<div style='{feedback_html.HINT_STYLE}'>hint: your result is exactly 2x the expected</div>"
    assert box in page
    assert page.index(box) < page.index("1 of 4 values differ")


def test_small_text_pairs_still_sit_side_by_side():
    page = _result()._repr_html_()
    assert "<pre style='margin:0'>[1., 2.]</pre>" in page and "<pre style='margin:0'>[2., 4.]</pre>" in page


def test_expected_and_got_grids_mark_exactly_the_differing_entries():
    page = item_html(ItemResult("u9", "t", 1.0, 0.0, [_result().subchecks[2]], False))
    assert "got (differing entries marked)" in page
    assert page.count(f"background:{feedback_html.MARK}'>") == 1
    assert f"background:{feedback_html.MARK}'>8.5</td>" in page      # got's wrong entry, marked
    assert "background:#fff'>4</td>" in page                          # expected's entry, not marked


def test_a_small_visible_matrix_gets_marked_grids_and_its_hidden_twin_a_heat_map():
    detail = _array_detail(np.zeros((3, 4)), np.eye(3, 4))
    visible = item_html(ItemResult("u9", "t", 1.0, 0.0, [_sub("W", 0.0, detail=detail)], False))
    assert "<img" not in visible and visible.count(f"background:{feedback_html.MARK}'>") == 3
    mask_only = {"shape": [3, 4], "mismatch": detail["mismatch"]}
    hidden = item_html(ItemResult("u9", "t", 1.0, 0.0, [_sub("W", 0.0, hidden=True, detail=mask_only)], True))
    assert len(_pngs(hidden)) == 1 and feedback_html.MARK not in hidden


def test_a_batch_of_maps_shows_the_first_map_that_differs():
    expected, got = np.zeros((2, 3, 2, 2)), np.zeros((2, 3, 2, 2))
    got[1, 2, 0, 1] = 7.0
    sub = _sub("dx", 0.0, detail=_array_detail(expected, got))
    page = item_html(ItemResult("u9", "t", 1.0, 0.0, [sub], False))
    assert "[1, 2, :, :], the first of the 6 maps of shape (2, 3, 2, 2) that differs" in page
    assert page.count("<td style='border:1px solid") == 8             # two 2 x 2 grids, not twelve
    assert f"background:{feedback_html.MARK}'>7</td>" in page


def test_student_strings_are_escaped_everywhere():
    attack = "<script>alert('x')</script>"
    subs = [_sub(f"check {attack}", 0.0, details=[f"your code raised ValueError: {attack}"],
                 diagnosis=[f"hint {attack}"])]
    result = ItemResult("u9_demo", f"title {attack}", 1.0, 0.0, subs, False, flag=f"flag {attack}")
    page = item_html(result, preamble=[f"cell 3: error: {attack}"])
    assert "<script" not in page.lower()
    escaped = "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;"
    assert page.count(escaped) == 6          # preamble, title, flag, what, hint, detail


def test_an_error_message_from_student_code_is_escaped():
    ns = {"np": np}
    exec("def relu(z):\n    raise ValueError('<script>alert(1)</script><img src=x onerror=alert(2)>')\n", ns)
    result = run_item(fx.REGISTRY.get("fx_relu"), LocalHandle(ns), include_hidden=False)
    assert "<script>alert(1)</script>" in result.render()            # the text report is text
    page = result._repr_html_()
    assert "<script" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;" in page


def test_an_untouched_stub_is_one_line():
    sub = SubCheck("forward", 0.0, details=["implement `f` first"])
    sub.not_implemented = "f"
    result = ItemResult("u9_demo", "demo", 1.0, 0.0, [sub], False)
    page = result._repr_html_()
    assert f">{result.render()}</th></tr></table>" in page and page.count("<tr") == 1
    assert result.render() == "u9_demo -- demo: 0 / 1 points: implement `f` first"


def test_a_rendering_failure_shows_the_escaped_text_report_instead():
    class Broken:
        grade_id, title, points, score, flag = "u9", "t", 1.0, 0.0, None

        def untouched_stub(self):
            raise RuntimeError("boom")

    page = safe_item_html(Broken(), "u9 -- t: 0 / 1 points <b>")
    assert page == "<pre>u9 -- t: 0 / 1 points &lt;b&gt;</pre>"


def test_feedback_shows_the_unchanged_text_report_as_plain_text():
    result = _result()
    shown = Feedback(result)
    assert repr(shown) == result.render()
    assert shown._repr_html_() == item_html(result)


# -- hidden checks --------------------------------------------------------------------------------------------

def test_hidden_checks_show_no_details_and_no_values_even_if_the_detail_holds_them():
    expected = np.array([[0.123456, 7.654321], [3.5, 9.25]])
    got = expected + np.array([[0, 1.0], [0, 0]])
    sub = _sub("secret case", 0.0, hidden=True, details=["input was 0.987654"], diagnosis=["a named mistake"],
               detail=_array_detail(expected, got))       # values present: the HTML must still not show them
    page = item_html(ItemResult("u9", "t", 1.0, 0.0, [sub], True))
    for secret in ("0.987654", "0.1235", "7.654", "8.654", "3.5", "9.25", "expected", "got ("):
        assert secret not in page, secret
    assert "details of hidden checks are not shown" in page and "a named mistake" in page
    assert len(_pngs(page)) == 1                                      # where it differs: allowed
    shown = item_html(ItemResult("u9", "t", 1.0, 0.0, [sub], True), show_hidden_details=True)
    assert "input was 0.987654" in shown and "7.654" in shown         # for instructors, when asked


def test_the_picture_depends_on_the_mismatch_map_alone():
    expected, got = _border_case()
    with_values = _sub("dx", 0.0, detail=_array_detail(expected, got))
    other = _array_detail(expected * 3.0, got * 3.0)                    # same map, other values
    assert other["mismatch"] == with_values.detail["mismatch"]
    mask_only = _sub("dx", 0.0, hidden=True, detail={"shape": [2, 3, 6, 5], "mismatch": other["mismatch"]})
    assert figure_html(with_values) == figure_html(_sub("dx", 0.0, detail=other)) == figure_html(mask_only)


def test_a_real_hidden_failure_leaks_none_of_its_lines_into_the_html():
    ns = {"np": np}
    exec("def relu(z):\n    return z * 1.0\n", ns)
    result = run_item(fx.REGISTRY.get("fx_relu"), LocalHandle(ns), include_hidden=True)
    hidden = [s for s in result.subchecks if s.hidden]
    assert hidden and not hidden[0].passed and "mismatch" in hidden[0].detail
    page = result._repr_html_()
    secret_numbers = set(re.findall(r"-?\d+\.\d{3,}", "\n".join(hidden[0].details)))
    assert secret_numbers, hidden[0].details
    assert not [n for n in secret_numbers if n in page]
    assert len(_pngs(page)) == 1       # the hidden failure; the visible ones mark their grids of got instead


# -- the picture ----------------------------------------------------------------------------------------------

def test_a_picture_only_for_failing_array_checks_with_something_to_show():
    expected, got = _border_case()
    failing = _array_detail(expected, got)
    assert len(_pngs(figure_html(_sub("dx", 0.0, detail=failing)))) == 1
    assert len(_pngs(figure_html(_sub("dx", 0.4, detail=failing)))) == 1       # partial credit still failed
    assert figure_html(_sub("dx", 1.0, detail=failing)) == ""                  # passed
    assert figure_html(_sub("dx", 0.0, details=["expected shape (2,), got (3,)"])) == ""   # no map
    assert figure_html(_sub("dx", 0.0, detail={"shape": [9000]})) == ""        # too large for a map
    assert figure_html(_sub("x", 0.0, detail={"shape": [], "mismatch": True})) == ""      # a single number
    assert figure_html(_sub("x", 0.0, detail={"shape": [3], "mismatch": [False] * 3})) == ""
    assert figure_html(_sub("x", 0.0, detail={"shape": [3], "mismatch": [True] * 3})) == ""   # says nothing
    small = _array_detail(np.zeros((3, 4)), np.eye(3, 4))
    assert figure_html(_sub("x", 0.0, detail=small), values_shown=True) == ""   # the marked grid is the map
    assert len(_pngs(figure_html(_sub("x", 0.0, detail=small)))) == 1
    assert len(_pngs(figure_html(_sub("dx", 0.0, detail=failing), values_shown=True))) == 1   # 4-D: all maps
    page = item_html(ItemResult("u9", "t", 2.0, 1.0, [_sub("ok", 1.0, detail=failing),
                                                     _sub("no map", 0.0, details=["wrong"])], False))
    assert "<img" not in page


def test_the_picture_is_a_small_png_of_where_it_differs():
    expected, got = _border_case()
    png = _pngs(figure_html(_sub("dx", 0.0, detail=_array_detail(expected, got))))[0]
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) <= feedback_figure.MAX_PNG_BYTES
    noisy = np.random.default_rng(1).random((64, 64)) < 0.5        # the largest map, the worst case for PNG
    png, _ = feedback_figure.mismatch_png(noisy)
    assert len(png) <= feedback_figure.MAX_PNG_BYTES


def test_the_map_of_a_batch_is_the_share_of_maps_differing_at_each_position():
    expected, got = _border_case()
    got[0, 0, 3, 2] += 1.0                                            # one interior entry of one map of six
    grid, caption = feedback_figure.mismatch_grid(~np.isclose(got, expected))
    want = np.zeros((6, 5))
    want[0, :], want[:, -1], want[3, 2] = 1.0, 1.0, 1 / 6
    np.testing.assert_allclose(grid, want)
    assert caption.startswith("61 of 180 entries differ") and "2 x 3 maps" in caption


def test_a_large_map_is_shrunk_by_blocks_without_losing_a_single_difference():
    mask = np.zeros(4000, dtype=bool)
    mask[3999] = True
    grid, caption = feedback_figure.mismatch_grid(mask)
    assert grid.shape == (63, 64) and np.nansum(grid) == 1.0 and grid[62, 31] == 1.0   # 3999 = 62 * 64 + 31
    assert "index = row * 64 + column" in caption
    wide = np.zeros((3, 1000), dtype=bool)
    wide[2, 999] = True
    grid, caption = feedback_figure.mismatch_grid(wide)
    assert grid.shape == (3, 63) and grid[2, 62] == 1.0 and np.nansum(grid) == 1.0
    assert "block of 1 x 16 entries" in caption


def test_entries_never_checked_stay_blank_and_are_not_counted():
    grid, caption = feedback_figure.mismatch_grid([True, False, False, False], checked=[True, True, False, False])
    np.testing.assert_array_equal(grid, [[1.0, 0.0, np.nan, np.nan]])
    assert caption.startswith("1 of 2 entries checked differ")
    sampled = {"shape": [4], "mismatch": [True, False, False, False], "checked": [True, False, False, True]}
    assert len(_pngs(figure_html(_sub("dx", 0.0, detail=sampled)))) == 1
    sampled["checked"] = [True, False, False, False]          # every entry checked differs: nothing to see
    assert figure_html(_sub("dx", 0.0, detail=sampled)) == ""


@pytest.mark.parametrize("bad", [[[True, False], [True]], "nonsense", None])
def test_a_malformed_map_gives_no_picture_and_no_error(bad, capfd):
    assert feedback_figure.mismatch_png(bad) is None
    assert capfd.readouterr().err == ""


def test_drawing_writes_nothing_to_stderr_and_restores_the_logger(capfd):
    import logging
    import warnings

    logger = logging.getLogger("matplotlib")
    before = logger.level
    expected, got = _border_case()
    with warnings.catch_warnings():
        warnings.simplefilter("error")                # a warning escaping the drawing would raise here
        page = figure_html(_sub("dx", 0.0, detail=_array_detail(expected, got)))
    assert len(_pngs(page)) == 1 and capfd.readouterr().err == ""
    assert logger.level == before
