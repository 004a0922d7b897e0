"""The package's shape: wings, one-way imports, no import circle, short modules.

Every ``import`` statement counts, those inside functions included, so a
circle cannot hide behind a lazy import. Third-party imports are ignored.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "gpudeconv"
MAX_LINES = 400

# Which wings each wing may import ("top" is the package's own top-level
# modules: psf, noise, deconvolve, dask and __init__).
ALLOWED = {
    "engine": {"engine"},
    "methods": {"engine", "methods"},
    "estimate": {"engine", "methods", "estimate"},
    "media": {"media"},
    "top": {"top", "engine", "methods", "estimate", "media"},
    "commands": {"top", "engine", "methods", "estimate", "media", "commands"},
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The package's own modules that ``name`` imports, anywhere in its body."""
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                if not is_package:
                    base = base[:-1]
                base = base[: len(base) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            # ``from pkg import sub`` imports the module pkg.sub when it exists.
            targets = [
                f"{prefix}.{alias.name}" if f"{prefix}.{alias.name}" in known else prefix
                for alias in node.names
            ]
        else:
            continue
        found.update(t for t in targets if t in known and t != name)
    return found


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: imports_of(name, path, known) for name, path in mods.items()}


def wing(name: str) -> str:
    if name == "gpudeconv.__main__":  # ``python -m gpudeconv`` is the command line
        return "commands"
    parts = name.split(".")
    if len(parts) > 2 or (len(parts) == 2 and (PACKAGE / parts[1]).is_dir()):
        return parts[1]
    return "top"


def test_the_package_has_its_wings():
    for folder in ("engine", "methods", "estimate", "media", "commands"):
        assert (PACKAGE / folder / "__init__.py").is_file()
    top = sorted(p.stem for p in PACKAGE.glob("*.py"))
    assert top == ["__init__", "__main__", "dask", "deconvolve", "noise", "psf", "tiling"]


def test_no_import_circle():
    edges = graph()
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node, path):
        state[node] = 1
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                cycle = path[path.index(nxt) :] + [nxt]
                pytest.fail("import circle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])


def test_imports_flow_one_way():
    wrong = [
        f"{src} imports {dst}"
        for src, targets in graph().items()
        for dst in targets
        if wing(dst) not in ALLOWED[wing(src)]
    ]
    assert not wrong, "\n".join(wrong)


def test_the_checker_sees_function_level_imports(tmp_path):
    # A circle hidden in a function must still count.
    src = "def f():\n    from .b import g\n"
    (tmp_path / "a.py").write_text(src)
    found = imports_of("gpudeconv.engine.a", tmp_path / "a.py", {"gpudeconv.engine.b"})
    assert found == {"gpudeconv.engine.b"}


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: p.name)
def test_modules_stay_short(path):
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(PACKAGE)} has {lines} lines"
