"""check() in a real Jupyter kernel: feedback as rich output (the text report and the HTML table), nothing on
stderr, and a float that nbgrader reads as partial credit."""

import re
from pathlib import Path

import numpy as np
import pytest

from nbgrader.utils import determine_grade

from tests.autograder import fixture_assignment as fx

REPO = Path(__file__).resolve().parents[2]


CODE = {"relu": "def relu(z):\n    return z * 1.0\n",                          # 0 of 2
        "softmax": "def softmax(z):\n    e = np.exp(z)\n    return e / e.sum(-1, keepdims=True)\n",   # 1 of 2
        "Linear": fx.STUBS["Linear"]}                                            # stub: 0 of 3


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """The fixture notebook with CODE, run in a real kernel once for this module's tests."""
    from nbclient import NotebookClient

    test_cells = {item.grade_id: (
        f"import sys\nsys.path.insert(0, {str(REPO)!r})\n"
        "from tests.autograder.fixture_assignment import REGISTRY\nfrom autograder import check\n"
        f'check("{item.grade_id}", globals(), registry=REGISTRY)\n'
        f'check("{item.grade_id}", globals(), hidden=True, registry=REGISTRY)\n') for item in fx.ITEMS}
    nb = fx.notebook(CODE, test_cells=test_cells)
    NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(tmp_path_factory.mktemp("kernel"))}}).execute()
    return nb


def _test_cells(nb):
    return [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")
            and not c.metadata["nbgrader"].get("solution")]


def _shown_text(output) -> str:
    return output.get("text", "") or output.get("data", {}).get("text/plain", "")


def test_check_in_a_kernel_gives_nbgrader_partial_credit_and_no_stderr(executed):
    import nbformat

    nb = executed
    grades = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution"):
            assert not any(o.output_type == "stream" and o.name == "stderr" for o in cell.outputs), cell.outputs
            assert not any(o.output_type == "error" for o in cell.outputs), cell.outputs
            grades[meta["grade_id"]] = determine_grade(nbformat.from_dict(cell))[0]
    assert grades == {"fx_relu": 0.0, "fx_relu_grad": 1.0, "fx_softmax": 1.0, "fx_linear": 0.0, "fx_mse": 1.0}
    linear_out = "".join(_shown_text(o) for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id")
                         == "fx_linear" for o in c.outputs)
    assert "implement `Linear` first" in linear_out and "Traceback" not in linear_out


def test_check_in_a_kernel_shows_the_unchanged_text_and_the_table_as_rich_output(executed):
    from autograder.handle import LocalHandle
    from autograder.runner import run_item

    relu_cell = next(c for c in _test_cells(executed) if c.metadata["nbgrader"]["grade_id"] == "fx_relu")
    kinds = [o.output_type for o in relu_cell.outputs]
    assert kinds == ["display_data", "display_data", "execute_result"], kinds   # two check() calls, one value
    ns = {"np": np}
    exec(fx.HONEST["relu_backward"] + CODE["relu"], ns)
    for output, hidden in zip(relu_cell.outputs[:2], (False, True)):
        data = output["data"]
        assert set(data) == {"text/plain", "text/html"}
        expected = run_item(fx.REGISTRY.get("fx_relu"), LocalHandle(ns), include_hidden=hidden)
        assert data["text/plain"] == expected.render()           # exactly the text a terminal prints
        page = data["text/html"]
        assert page.startswith("<div class='nnkit-feedback'><table") and "fx_relu -- " in page
        # the hidden (40, 7) failure gets a heat map; the visible ones show marked grids of got instead
        assert page.count("data:image/png;base64,") == (1 if hidden else 0)
        assert "got (differing entries marked)" in page
        assert ("(hidden) relu on large inputs" in page) == hidden
    passing = next(c for c in _test_cells(executed) if c.metadata["nbgrader"]["grade_id"] == "fx_mse")
    assert "<img" not in passing.outputs[0]["data"]["text/html"]


def test_the_kernels_table_survives_nbconverts_html_export(executed):
    """What plain ``nbgrader autograde`` (in a kernel) then ``generate_feedback`` would publish."""
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_notebook_node(executed)     # re-serialises the HTML: attributes in "..."
    assert len(re.findall(r"<div class=[\"']nnkit-feedback[\"']>", body)) == 2 * len(fx.ITEMS)
    pictures = sum(o["data"]["text/html"].count("data:image/png;base64,") for c in _test_cells(executed)
                   for o in c.outputs if o.output_type == "display_data")
    assert pictures >= 1 and len(re.findall(r"<img [^>]*src=[\"']data:image/png;base64,", body)) == pictures
    assert "fx_relu -- relu(z): 0 / 2 points" in body
