"""check() in a real Jupyter kernel: feedback on stdout only, and a float that nbgrader reads as partial credit."""

from pathlib import Path

from nbgrader.utils import determine_grade

from tests.autograder import fixture_assignment as fx

REPO = Path(__file__).resolve().parents[2]


def test_check_in_a_kernel_gives_nbgrader_partial_credit_and_no_stderr(tmp_path):
    import nbformat
    from nbclient import NotebookClient

    test_cells = {item.grade_id: (
        f"import sys\nsys.path.insert(0, {str(REPO)!r})\n"
        "from tests.autograder.fixture_assignment import REGISTRY\nfrom autograder import check\n"
        f'check("{item.grade_id}", globals(), registry=REGISTRY)\n'
        f'check("{item.grade_id}", globals(), hidden=True, registry=REGISTRY)\n') for item in fx.ITEMS}
    code = {"relu": "def relu(z):\n    return z * 1.0\n",                          # 0 of 2
            "softmax": "def softmax(z):\n    e = np.exp(z)\n    return e / e.sum(-1, keepdims=True)\n",   # 1 of 2
            "Linear": fx.STUBS["Linear"]}                                            # stub: 0 of 3
    nb = fx.notebook(code, test_cells=test_cells)
    NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    grades = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution"):
            assert not any(o.output_type == "stream" and o.name == "stderr" for o in cell.outputs), cell.outputs
            assert not any(o.output_type == "error" for o in cell.outputs), cell.outputs
            grades[meta["grade_id"]] = determine_grade(nbformat.from_dict(cell))[0]
    assert grades == {"fx_relu": 0.0, "fx_relu_grad": 1.0, "fx_softmax": 1.0, "fx_linear": 0.0, "fx_mse": 1.0}
    linear_out = "".join(o.get("text", "") for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id")
                         == "fx_linear" for o in c.outputs)
    assert "implement `Linear` first" in linear_out and "Traceback" not in linear_out
