"""The package map in cadl_graph/__init__.py is complete, and no folder imports a higher one."""

import ast
import re
import subprocess
import sys
from pathlib import Path

import cadl_graph

PACKAGE = Path(cadl_graph.__file__).parent


def _map():
    """[(folder or "base", [modules])] from the package docstring, lowest first."""
    layers = []
    for line in cadl_graph.__doc__.splitlines():
        match = re.match(r"  (base|\w+/) ", line)
        if match:
            layers.append((match.group(1).rstrip("/"), []))
        if layers and layers[-1][0] == "base" and (match or re.match(r"  {10,}\w", line)):
            layers[-1][1].extend(re.findall(r"(\w+),?", line[13:41]))
    return layers


LAYERS = _map()
RANK = {name: i for i, (name, _) in enumerate(LAYERS)}


def _folder_of(module):
    """The map's layer of a dotted module name inside cadl_graph."""
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (PACKAGE / parts[1]).is_dir() else "base"


def _imports(path):
    """The cadl_graph modules a file imports, as dotted names."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and \
                node.module.split(".")[0] == "cadl_graph":
            found |= {f"{node.module}.{a.name}" if node.module == "cadl_graph" else node.module
                      for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("cadl_graph.")}
    return found


def test_the_map_names_every_folder_and_base_module():
    folders = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()
                     and p.name != "golden_files")
    assert sorted(name for name, _ in LAYERS if name != "base") == folders
    base = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")
    assert sorted(dict(LAYERS)["base"]) == base


def test_each_folder_lists_its_modules():
    for name, _ in LAYERS[1:]:
        folder = PACKAGE / name
        modules = sorted(p.stem for p in folder.glob("*.py") if p.stem != "__init__")
        doc = ast.get_docstring(ast.parse((folder / "__init__.py").read_text()), clean=False)
        listed = sorted(re.findall(r"^  (\w+) ", doc, re.M))
        assert listed == modules, name


def test_no_module_imports_from_a_higher_folder():
    upward = []
    for path in PACKAGE.rglob("*.py"):
        here = "base" if path.parent == PACKAGE else path.parent.name
        if here == "golden_files":
            continue
        for imported in _imports(path):
            there = _folder_of(imported)
            if RANK[there] > RANK[here]:
                upward.append(f"{path.relative_to(PACKAGE)} ({here}) imports {imported}")
    assert upward == []


def test_the_base_modules_import_no_folder():
    for module in dict(LAYERS)["base"]:
        for imported in _imports(PACKAGE / f"{module}.py"):
            assert _folder_of(imported) == "base", (module, imported)


def test_importing_the_package_or_its_data_layer_imports_no_tensorflow():
    code = ("import sys, cadl_graph, cadl_graph.data.datasets, cadl_graph.data.sources, "
            "cadl_graph.data.idx, cadl_graph.golden.pytest_plugin; "
            "print('tensorflow' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "False"
