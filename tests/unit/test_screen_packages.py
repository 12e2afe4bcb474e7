"""The screens' feature folders stay apart: no screen package imports another (a screen asks the app
to open a record, app.open_record), the shared screens import none of them, and every stylesheet
a screen names exists and ships with the package."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import tomllib
from fnmatch import fnmatch
from pathlib import Path

from textual.screen import Screen

import crm_tui
import crm_tui.screens

SCREENS = Path(crm_tui.screens.__file__).parent
FEATURES = sorted(p.name for p in SCREENS.iterdir() if (p / "__init__.py").exists())


def _imports(path: Path) -> set[str]:
    """Every module a file imports, at its top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def _feature_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[:2] == ["crm_tui", "screens"] and len(parts) > 2 and parts[2] in FEATURES:
        return parts[2]
    return None


def test_the_feature_folders_are_there():
    assert {"contacts", "companies", "pipeline", "inbox", "reports", "settings"} <= set(FEATURES)


def test_no_screen_package_imports_another():
    crossing = []
    for path in SCREENS.rglob("*.py"):
        own = path.parent.name if path.parent != SCREENS else None
        for module in _imports(path):
            feature = _feature_of(module)
            if feature is not None and feature != own:
                crossing.append(f"{path.relative_to(SCREENS)} imports {module}")
    assert not crossing


def test_widgets_import_no_screen():
    widgets = Path(crm_tui.__file__).parent / "widgets"
    assert not [f"{p.name}: {m}" for p in widgets.rglob("*.py") for m in _imports(p)
                if m.startswith("crm_tui.screens") or m.startswith("crm_tui.areas")]


def test_every_screen_stylesheet_exists_and_ships():
    pyproject = tomllib.loads((Path(crm_tui.__file__).parent.parent / "pyproject.toml").read_text())
    shipped = pyproject["tool"]["setuptools"]["package-data"]["crm_tui"]
    package = Path(crm_tui.__file__).parent
    for module in pkgutil.walk_packages(crm_tui.screens.__path__, "crm_tui.screens."):
        importlib.import_module(module.name)

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    screens = [c for c in subclasses(Screen) if c.__module__.startswith("crm_tui.") and c.CSS_PATH]
    assert len(screens) > 10
    for cls in screens:
        paths = cls.CSS_PATH if isinstance(cls.CSS_PATH, list) else [cls.CSS_PATH]
        for css in paths:
            file = (Path(inspect.getfile(cls)).parent / css).resolve()
            assert file.is_file(), f"{cls.__name__}: {css}"
            inside = file.relative_to(package).as_posix()
            assert any(fnmatch(inside, pattern) for pattern in shipped), f"{inside} is not in package-data"
    assert not list(package.glob("styles/*.tcss"))  # each folder's styles sit beside its screens
