"""The house's layers as code: the import-linter contracts in pyproject.toml hold on every run
(ARCHITECTURE.md draws them), and they do catch a breach."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

pytest.importorskip("importlinter", reason="import-linter is a test dependency: pip install -e '.[test]'")
from importlinter.cli import lint_imports  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def _lint(project: Path, monkeypatch) -> int:
    """lint-imports on `project` (its pyproject's contracts, its crm_tui package)."""
    monkeypatch.chdir(project)
    monkeypatch.setattr(sys, "path", [str(project), *sys.path])
    for name in [m for m in sys.modules if m == "crm_tui" or m.startswith("crm_tui.")]:
        monkeypatch.delitem(sys.modules, name)
    return lint_imports(config_filename=str(project / "pyproject.toml"), no_cache=True, no_logo=True)


def test_the_import_contracts_hold(monkeypatch):
    assert _lint(ROOT, monkeypatch) == 0, "an import breaks a contract in pyproject.toml: see the report above"


@pytest.mark.parametrize("module, line, broken", [
    ("services/contacts.py", "import textual  # a service that draws", "The domain"),
    ("services/deals.py", "from crm_tui.cli import output  # a service that reaches up", "Arrows point down"),
    ("screens/contacts/screen.py", "from crm_tui.screens.pipeline import board  # one area into another",
     "No screen package imports another"),
    ("services/tasks.py", "from crm_tui.services import activities  # activities imports tasks: a cycle",
     "No import cycles"),
])
def test_a_breach_is_caught(tmp_path, monkeypatch, capsys, module, line, broken):
    shutil.copytree(ROOT / "crm_tui", tmp_path / "crm_tui", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / "crm_tui" / module
    target.write_text(target.read_text() + f"\n{line}\n")
    capsys.readouterr()
    assert _lint(tmp_path, monkeypatch) == 1
    report = capsys.readouterr().out
    assert any(name.startswith(broken) and name.endswith(" BROKEN") for name in report.splitlines())
