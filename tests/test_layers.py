"""The package map in cadl_graph/__init__.py is complete, and no layer imports a higher one."""

import ast
import subprocess
import sys
from pathlib import Path

import cadl_graph

PACKAGE = Path(cadl_graph.__file__).parent
LAYER_OF = {module: i for i, (_, modules) in enumerate(cadl_graph.LAYERS) for module in modules}


def _imports(path):
    """The cadl_graph modules a file imports (by `from cadl_graph import x` or `.x`)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and \
                node.module.split(".")[0] == "cadl_graph":
            parts = node.module.split(".")
            found |= {a.name for a in node.names} if len(parts) == 1 else {parts[1]}
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names
                      if a.name.startswith("cadl_graph.")}
    return found - {path.stem}


def test_the_map_names_every_module_once():
    modules = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")
    listed = [m for _, layer in cadl_graph.LAYERS for m in layer]
    assert sorted(listed) == modules
    assert len(listed) == len(set(listed))
    for name, layer in cadl_graph.LAYERS:  # the docstring shows the same map
        for module in layer:
            assert module in cadl_graph.__doc__, module


def test_no_module_imports_from_a_higher_layer():
    upward = []
    for path in PACKAGE.glob("*.py"):
        if path.stem == "__init__":
            continue
        for imported in _imports(path):
            if LAYER_OF[imported] > LAYER_OF[path.stem]:
                upward.append(f"{path.stem} ({cadl_graph.LAYERS[LAYER_OF[path.stem]][0]}) "
                              f"imports {imported} ({cadl_graph.LAYERS[LAYER_OF[imported]][0]})")
    assert upward == []


def test_importing_the_package_or_its_data_layer_imports_no_tensorflow():
    code = ("import sys, cadl_graph, cadl_graph.datasets, cadl_graph.sources, cadl_graph.idx; "
            "print('tensorflow' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "False"
