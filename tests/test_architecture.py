"""The package's shape, read from its syntax trees: the rules CI holds the code to.

- no module uses another module's ``_private`` name (``from x import _y`` or ``x._y``);
- no import cycle between the package's modules, counting imports inside functions;
- no function longer than 80 lines of code (docstring and blank lines not counted);
- each rule that was once copied defined in one module (``PACIFIC``, the file-name patterns).

import-linter (``lint-imports`` in CI, contracts in ``pyproject.toml``) checks the layers;
this test checks what it cannot: names, function-level imports and sizes.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "leanplum_notebook"
MAX_FUNCTION_LINES = 80


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
TREES = {name: ast.parse(path.read_text(encoding="utf-8")) for name, path in MODULES.items()}


def resolve(module: str, node: ast.ImportFrom) -> str:
    """The absolute module an ImportFrom names (relative imports resolved)."""
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if MODULES[module].name != "__init__.py":
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def imports(module: str) -> Iterator[tuple[str, str | None, int]]:
    """(imported module, imported name or None, line) for every import, at any depth."""
    for node in ast.walk(TREES[module]):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None, node.lineno
        elif isinstance(node, ast.ImportFrom):
            target = resolve(module, node)
            for alias in node.names:
                yield target, alias.name, node.lineno


def internal_edges() -> dict[str, set[str]]:
    """Module -> package modules it imports (``from pkg import mod`` counts as mod)."""
    edges: dict[str, set[str]] = {m: set() for m in MODULES}
    for module in MODULES:
        for target, name, _ in imports(module):
            if name is not None and f"{target}.{name}" in MODULES:
                target = f"{target}.{name}"
            if target in MODULES and target != module:
                edges[module].add(target)
    return edges


def test_no_module_uses_another_modules_private_names() -> None:
    found = []
    for module, tree in TREES.items():
        aliases: dict[str, str] = {}
        for target, name, line in imports(module):
            private = name is not None and name.startswith("_") and not name.startswith("__")
            if target.startswith("leanplum_notebook") and private:
                found.append(f"{module}:{line} imports {target}.{name}")
            if target.startswith("leanplum_notebook") and name:
                aliases[name] = f"{target}.{name}"
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    if alias.asname:
                        aliases[alias.asname] = f"{resolve(module, node)}.{alias.name}"
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
                and aliases.get(node.value.id, "") in MODULES
            ):
                found.append(f"{module}:{node.lineno} uses {node.value.id}.{node.attr}")
    assert found == []


def test_no_import_cycles_even_inside_functions() -> None:
    edges = internal_edges()
    # a package's __init__ importing its own submodules is not a cycle of the layers
    for module in edges:
        edges[module] = {t for t in edges[module] if not module.startswith(t + ".")}
    cycles = []
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*stack[stack.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def code_lines(node: ast.FunctionDef | ast.AsyncFunctionDef, source: list[str]) -> int:
    body = node.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring
    if not body:
        return 0
    lines = source[body[0].lineno - 1 : (node.end_lineno or node.lineno)]
    return sum(1 for line in lines if line.strip() and not line.strip().startswith("#"))


def test_no_function_over_80_lines_of_code() -> None:
    long = []
    for module, tree in TREES.items():
        source = MODULES[module].read_text(encoding="utf-8").splitlines()
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = code_lines(node, source)
                if n > MAX_FUNCTION_LINES:
                    long.append(f"{module}.{node.name}: {n} lines")
    assert long == []


@pytest.mark.parametrize("name", ["PACIFIC", "TimeZone", "JSON_FILE", "CSV_FILE"])
def test_shared_rules_are_defined_once(name: str) -> None:
    # the simulator is a second, independent reading of the spec: it keeps its own copy
    owners = [
        module
        for module, tree in TREES.items()
        if not module.startswith("leanplum_notebook.simulator")
        for node in tree.body
        if isinstance(node, (ast.Assign, ast.AnnAssign))
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(target, ast.Name) and target.id.lstrip("_") == name
    ]
    assert len(owners) <= 1, owners


def test_every_logger_passes_the_redaction_layer() -> None:
    """A logger's filter sees only its own records, so each module's logger must come from
    redaction.get_logger (which attaches the filter), never from logging.getLogger."""
    direct = [
        f"{module}:{node.lineno}"
        for module, tree in TREES.items()
        if module != "leanplum_notebook.redaction"
        and not module.startswith("leanplum_notebook.simulator")
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "getLogger"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "logging"
        and node.args
        and "__name__" in ast.unparse(node.args[0])  # third-party loggers are configured
    ]
    assert direct == []
    users = [m for m, t in TREES.items() if "get_logger(__name__)" in ast.unparse(t)]
    assert len(users) > 15  # the scan saw the modules that log


def test_the_scan_sees_the_package() -> None:
    # guards the tests above against passing on an empty scan
    assert "leanplum_notebook.analysis.metrics" in MODULES
    assert len(MODULES) > 30
    assert internal_edges()["leanplum_notebook.analysis.metrics"]


DUPLICATE_RUN = 6
_STRING = re.compile(r"[rbf]?(\"[^\"]*\"|'[^']*')")
_NUMBER = re.compile(r"\b[0-9][0-9_.e]*\b")
MAX_DUPLICATE_PAIRS = 8


def duplicate_pairs() -> list[str]:
    """Pairs of places sharing a run of 6+ alike lines (code lines, whitespace-normalised).

    Windows of six lines are hashed; overlapping matches between the same two places are
    one pair. Lines too plain to mean anything (brackets, ``else:``, ``return out``) are not
    code worth counting.
    """
    lines: list[tuple[str, int, str]] = []
    for module, path in MODULES.items():
        for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            text = " ".join(raw.split())
            if text.startswith(("#", '"', "'", "from ", "import ", "@")):
                continue
            # alike, not only equal: any string or number stands for any other
            shape = _NUMBER.sub("0", _STRING.sub("s", text))
            if len(shape.strip(" ,()[]{}:")) >= 8:
                lines.append((module, number, shape))
    seen: dict[tuple[str, ...], list[tuple[str, int]]] = {}
    for i in range(len(lines) - DUPLICATE_RUN + 1):
        window = lines[i : i + DUPLICATE_RUN]
        if len({m for m, _, _ in window}) > 1:
            continue
        seen.setdefault(tuple(t for _, _, t in window), []).append((window[0][0], window[0][1]))
    # (module a, module b) -> runs [first line a, first line b, last line a, last line b]
    pairs: dict[tuple[str, str], list[list[int]]] = {}
    for places in seen.values():
        for a, (ma, la) in enumerate(places):
            for mb, lb in places[a + 1 :]:
                runs = pairs.setdefault((ma, mb), [])
                for run in runs:  # a window just after one of a run extends that run
                    if 0 < la - run[2] <= DUPLICATE_RUN and 0 < lb - run[3] <= DUPLICATE_RUN:
                        run[2], run[3] = la, lb
                        break
                else:
                    runs.append([la, lb, la, lb])
    return [f"{ma}:{r[0]} ~ {mb}:{r[1]}" for (ma, mb), runs in pairs.items() for r in runs]


def test_little_code_is_written_twice() -> None:
    found = duplicate_pairs()
    assert len(found) <= MAX_DUPLICATE_PAIRS, "\n".join(found)
