"""The rules that keep the data path one way (issue 12): the core never imports gradio; the UI does no tensor work,
holds short functions and wraps every handler; Pillow opens files in one module."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "cvdemo"
UI = CORE / "ui"
MAX_UI_FUNCTION_LINES = 80


def modules(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.py"))


def imported_roots(path: Path) -> set[str]:
    """Top-level package names a module imports (anywhere in it, functions included)."""
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_import_cvdemo_does_not_import_gradio():
    code = "import sys, cvdemo, cvdemo.models, cvdemo.metrics, cvdemo.training; print('gradio' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_core_modules_never_import_gradio():
    offenders = [str(p.relative_to(ROOT)) for p in modules(CORE)
                 if UI not in p.parents and "gradio" in imported_roots(p)]
    assert offenders == []


def test_core_modules_never_import_the_ui():
    """The data path runs one way: tab -> core service -> figures; the core never reaches back into the UI."""
    offenders = []
    for path in modules(CORE):
        if UI in path.parents:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if any(n == "cvdemo.ui" or n.startswith("cvdemo.ui.") for n in names):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_ui_modules_do_no_tensor_work():
    offenders = {str(p.relative_to(ROOT)): sorted(imported_roots(p) & {"torch", "torchvision"})
                 for p in modules(UI)}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_no_ui_function_over_80_lines():
    long = []
    for path in modules(UI):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_UI_FUNCTION_LINES:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({lines} lines)")
    assert long == []


def test_pillow_opens_files_in_one_module():
    openers = []
    for path in modules(CORE):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr == "open" and isinstance(node.value, ast.Name) \
                    and node.value.id == "Image":
                openers.append(str(path.relative_to(ROOT)))
    assert sorted(set(openers)) == ["cvdemo/images.py"]


def test_pillow_global_limits_are_never_changed():
    writers = []
    for path in [*modules(CORE), ROOT / "app.py"]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.Assign, ast.AugAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for t in targets:
                    if isinstance(t, ast.Attribute) and t.attr in ("MAX_IMAGE_PIXELS", "LOAD_TRUNCATED_IMAGES"):
                        writers.append(str(path.relative_to(ROOT)))
    assert writers == []


def test_every_event_handler_answers():
    """Build the app and check that every registered event function is wrapped by `cvdemo.ui.errors.answers`
    (the demo's own page-load and unload hooks too)."""
    pytest.importorskip("gradio")
    import app
    from cvdemo.ui.errors import is_answering

    demo = app.build_demo()
    unwrapped = []
    for fn in demo.fns.values():
        if fn.fn is None:
            continue
        if not is_answering(fn.fn):
            unwrapped.append(f"{fn.name} ({getattr(fn.fn, '__module__', '?')}.{getattr(fn.fn, '__qualname__', '?')})")
    assert unwrapped == []
