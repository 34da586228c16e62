"""Make ``docs/img/feedback.png``: what a student sees when a test cell's check fails, and one that passes.

Usage (from anywhere; needs Chromium and Playwright, as the browser test does)::

    python scripts/feedback_screenshot.py                    # writes docs/img/feedback.png
    python scripts/feedback_screenshot.py --html page.html   # also keep the page that was photographed

What it does, so that the picture is the real thing and not a mock-up:

1. a small notebook: unit 5's own ``conv_output_size`` and ``conv2d_forward`` (the solutions), and a
   ``conv2d_backward`` with two classic mistakes: windows that reach into the zero padding are skipped when dx
   is accumulated, so dx is wrong near the borders of every image (the heat map shows the frame), and db is
   averaged over the batch instead of summed (the grader names that one: the hint box); dW is right;
2. its two test cells, ``check("u5_conv_forward", ...)`` (passes) and ``check("u5_conv_backward", ...)``
   (fails), with ``hidden=True`` as ``nbgrader autograde`` runs them, executed in a real Jupyter kernel, so
   the output is what ``check()`` displays there;
3. exported by nbconvert's HTML exporter (what ``nbgrader generate_feedback`` uses), set-up cells removed;
4. photographed by headless Chromium through Playwright.

It is not part of the test suite (it takes a kernel and a browser); rerun it when the feedback's look changes.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

REPO = Path(__file__).resolve().parents[1]
SOLUTIONS = REPO / "solutions" / "unit5" / "unit5.ipynb"
HIDE = "feedback-screenshot-hide"

CONV2D_BACKWARD_IGNORING_PADDING = '''\
def conv2d_backward(dout, cache):
    x, W, stride, pad = cache
    N, C, H, Wd = x.shape
    F, _, HH, WW = W.shape
    xpad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dx, dW = np.zeros_like(x), np.zeros_like(W)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            d = dout[:, :, i, j]                                                      # (N, F)
            window = xpad[:, :, i * stride:i * stride + HH, j * stride:j * stride + WW]
            dW += np.tensordot(d, window, axes=([0], [0]))
            r, c = i * stride - pad, j * stride - pad          # the window in x's own coordinates
            if r < 0 or c < 0 or r + HH > H or c + WW > Wd:
                continue                                       # the mistake: it reaches into the padding
            dx[:, :, r:r + HH, c:c + WW] += np.tensordot(d, W, axes=([1], [0]))
    db = dout.sum(axis=(2, 3)).mean(axis=0)                    # and a second one: db averaged over the batch
    return dx, dW, db
'''


def solution_source(grade_id: str) -> str:
    """The instructor's code of one solution cell, without nbgrader's solution markers."""
    nb = nbformat.read(str(SOLUTIONS), as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    return "\n".join(line for line in cell.source.splitlines() if "### BEGIN SOLUTION" not in line
                     and "### END SOLUTION" not in line)


def notebook() -> nbformat.NotebookNode:
    hidden = {"tags": [HIDE]}
    setup = f"import sys\nsys.path.insert(0, {str(REPO)!r})\nimport numpy as np\n"
    cells = [new_markdown_cell("### Unit 5: `conv2d_forward` is right; `conv2d_backward` skips the windows that "
                               "reach into the padding, and averages db over the batch"),
             new_code_cell(setup, metadata=hidden),
             new_code_cell(solution_source("u5_conv_output_size_impl"), metadata=hidden),
             new_code_cell(solution_source("u5_conv_forward_impl"), metadata=hidden),
             new_code_cell(CONV2D_BACKWARD_IGNORING_PADDING, metadata=hidden)]
    for gid in ("u5_conv_forward", "u5_conv_backward"):
        cells.append(new_code_cell(f'from autograder import check\n\ncheck("{gid}", globals(), hidden=True)'))
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def page(nb, workdir: Path) -> str:
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor

    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}).execute()
    exporter = HTMLExporter()
    exporter.register_preprocessor(TagRemovePreprocessor(remove_cell_tags={HIDE}), enabled=True)
    body, _ = exporter.from_notebook_node(nb)
    return body


def photograph(html_path: Path, out: Path, chromium: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        try:
            tab = browser.new_page(viewport={"width": 1150, "height": 900}, device_scale_factor=1)
            tab.goto(html_path.as_uri())
            tab.wait_for_load_state("networkidle")
            tab.locator("main").screenshot(path=str(out))
        finally:
            browser.close()
    from PIL import Image   # matplotlib's dependency: a 256-colour palette makes the file a third as big

    with Image.open(out) as shot:
        small = shot.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    small.save(out, optimize=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "img" / "feedback.png")
    parser.add_argument("--html", type=Path, help="also write the photographed page here")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="nnkit-feedback-shot-") as tmp:
        html_path = Path(tmp) / "feedback.html"
        html_path.write_text(page(notebook(), Path(tmp)), encoding="utf-8")
        if args.html:
            shutil.copyfile(html_path, args.html)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        photograph(html_path, args.out, args.chromium)
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
