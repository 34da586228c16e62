"""The HTML feedback: one table per item, coloured by outcome, hidden details withheld, everything escaped."""

from autograder.runner import ItemResult
from autograder.tester import SubCheck


def _result():
    subs = [SubCheck("forward on a (2, 2) array", 1.0),
            SubCheck("backward <b>", 0.0, details=["2 of 4 values differ", "expected [1., 2.]", "got      [2., 4.]"],
                     diagnosis=["your result is exactly 2x the expected"]),
            SubCheck("secret case", 0.0, hidden=True, details=["input was 42"], diagnosis=["a named mistake"])]
    return ItemResult("u9_demo", "demo <item>", 3.0, 1.0, subs, True)


def test_html_has_one_row_per_subcheck_coloured_by_outcome():
    page = _result()._repr_html_()
    assert page.startswith("<table") and page.count("<tr style='background:") == 3
    assert "#e6f4ea" in page and "#fdecea" in page            # pass and fail colours
    assert "u9_demo &mdash; demo &lt;item&gt;: 1 / 3 points" in page


def test_html_puts_expected_and_got_side_by_side_and_shows_hints():
    page = _result()._repr_html_()
    assert "<th style='text-align:left;padding:0 12px 0 0'>expected</th>" in page
    assert "<pre style='margin:0'>[1., 2.]</pre>" in page and "<pre style='margin:0'>[2., 4.]</pre>" in page
    assert "<b>hint:</b> your result is exactly 2x the expected" in page


def test_html_withholds_hidden_details_but_not_hidden_hints_and_escapes():
    page = _result()._repr_html_()
    assert "input was 42" not in page and "details of hidden checks are not shown" in page
    assert "a named mistake" in page
    assert "backward &lt;b&gt;" in page and "backward <b>" not in page


def test_an_untouched_stub_is_one_line():
    from autograder.tester import SubCheck as S
    sub = S("forward", 0.0, details=["implement `f` first"])
    sub.not_implemented = "f"
    page = ItemResult("u9_demo", "demo", 1.0, 0.0, [sub], False)._repr_html_()
    assert "implement <code>f</code> first" in page and page.count("<tr") == 2
