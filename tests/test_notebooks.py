"""Every notebook in notebooks/ is committed without outputs and runs top to bottom."""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stripped_and_runs(path, tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs, f"{path.name}: commit notebooks with outputs stripped"
            assert cell.execution_count is None, f"{path.name}: execution counts not stripped"
    monkeypatch.chdir(tmp_path)  # notebooks may write files; keep them out of the repo
    monkeypatch.setenv("MPLBACKEND", "Agg")
    # the kernel must import this checkout's ditherlab even when it is not installed
    path = os.environ.get("PYTHONPATH", "")
    monkeypatch.setenv("PYTHONPATH", str(ROOT) + (os.pathsep + path if path else ""))
    client = nbclient.NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ should hold at least one exploration notebook"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_uses_only_public_api(path):
    # issue 9: notebooks are examples for users; nothing private (a leading underscore in a
    # module or a name imported from ditherlab)
    import re

    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.read(path, as_version=4)
    source = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    for module, names in re.findall(r"from (ditherlab[\w.]*) import (\([^)]*\)|[^\n]*)", source):
        assert not any(part.startswith("_") for part in module.split(".")), module
        for name in re.split(r"[,\s()]+", names.strip("() \n")):
            assert not name.startswith("_"), f"{path.name}: imports private {module}.{name}"
    assert not re.search(r"ditherlab(\.\w+)*\._\w", source), f"{path.name}: private attribute"


def test_the_private_import_check_can_fail(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    from nbformat.v4 import new_code_cell, new_notebook

    bad = tmp_path / "bad.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell("from ditherlab.demo import _output_wcs")]),
                   bad)
    with pytest.raises(AssertionError, match="private"):
        test_notebook_uses_only_public_api(bad)
