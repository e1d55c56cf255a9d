"""The drizzle package's layout: one-way imports, each module importable on its own."""

import ast
import subprocess
import sys
from pathlib import Path

import ditherlab.drizzle

PKG = Path(ditherlab.drizzle.__file__).parent
NAME = "ditherlab.drizzle"


def _modules():
    """Module name -> source path, for every module of the drizzle package (subpackages too)."""
    mods = {}
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG).with_suffix("")
        parts = [p for p in rel.parts if p != "__init__"]
        mods[".".join([NAME, *parts])] = path
    return mods


def _imports(path, mods):
    """The package modules ``path`` imports (at any level, functions included)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name in mods)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module not in mods:
                continue
            for a in node.names:
                sub = f"{node.module}.{a.name}"
                out.add(sub if sub in mods else node.module)
    return out


def _cycle(graph):
    """One import cycle of ``graph`` as a list of modules, or None."""
    state = {}

    def visit(m, stack):
        state[m] = "open"
        for n in sorted(graph[m]):
            if state.get(n) == "open":
                return [*stack[stack.index(n) :], n]
            if n not in state:
                found = visit(n, [*stack, n])
                if found:
                    return found
        state[m] = "done"
        return None

    for m in sorted(graph):
        if m not in state:
            found = visit(m, [m])
            if found:
                return found
    return None


def test_the_package_has_no_import_cycle():
    mods = _modules()
    # a submodule importing its package would import every sibling: count it as an edge
    # to the package's __init__ (which imports the submodules)
    graph = {m: _imports(p, mods) - {m} for m, p in mods.items()}
    assert _cycle(graph) is None, f"import cycle: {' -> '.join(_cycle(graph))}"
    assert len(graph) >= 12
    # the prepared operator builds on tiles and merges, not on the Drizzle class
    assert f"{NAME}._resample" not in graph[f"{NAME}._operator"]
    for pure in ("_kernels", "_scan", "_tiles", "_buffers"):
        assert not (graph[f"{NAME}.{pure}"] & {f"{NAME}._resample", f"{NAME}._parallel"})


def test_a_cycle_is_found():
    """The check above can fail."""
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_each_module_imports_on_its_own():
    names = [m for m in _modules() if m != NAME]
    code = (
        "import importlib, sys\n"
        f"for name in {names!r}:\n"
        "    for m in [m for m in sys.modules if m.startswith('ditherlab')]:\n"
        "        del sys.modules[m]\n"
        "    importlib.import_module(name)\n"
        "print('ok', len(sys.argv))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=PKG.parents[1]
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ok")


def test_fork_signals_and_malloc_live_in_the_parallel_module_only():
    words = ("os.fork", "import mmap", "import signal", "madvise", "ctypes", "ThreadPoolExecutor")
    for name, path in _modules().items():
        if name.endswith("._parallel"):
            continue
        src = path.read_text()
        assert not [w for w in words if w in src], name
