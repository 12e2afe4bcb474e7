"""The rules file (TOML): reading it rule by rule, and checking every rule before it runs.

Each `[[rule]]` is read on its own, so a rule with broken TOML, an unknown trigger or a field that
does not exist gives an error naming the rule and its line, and the other rules still load.
"""

from __future__ import annotations

import re
import string
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crm_tui import config
from crm_tui.workflows import actions as action_types
from crm_tui.workflows import conditions as condition_fields
from crm_tui.workflows import context as context_fields
from crm_tui.workflows import triggers as trigger_types

FILE_NAME = "workflows.toml"
RULE_KEYS = {"name", "description", "enabled", "trigger", "conditions", "actions", "limit"}
DEFAULT_LIMIT = 1000
_HEADER = re.compile(r"^\s*\[\[\s*rule\s*\]\]\s*(#.*)?$")
_NAME = re.compile(r"""^\s*name\s*=\s*["'](.*)["']\s*(#.*)?$""")
_TOML_LINE = re.compile(r"at line (\d+)")


class RuleError(ValueError):
    """A problem in one rule; `str()` is the one line a person reads."""

    def __init__(self, message: str, *, rule: str | None = None, line: int | None = None,
                 path: Path | str | None = None) -> None:
        self.message, self.rule, self.line, self.path = message, rule, line, path
        super().__init__(str(self))

    def __str__(self) -> str:
        where = []
        if self.path:
            where.append(Path(self.path).name + (f" line {self.line}" if self.line else ""))
        elif self.line:
            where.append(f"line {self.line}")
        if self.rule:
            where.append(f"rule {self.rule!r}")
        return f"{', '.join(where)}: {self.message}" if where else self.message


@dataclass(frozen=True)
class Rule:
    name: str
    trigger: trigger_types.Trigger
    conditions: tuple[condition_fields.Condition, ...]
    actions: tuple[action_types.Action, ...]
    description: str = ""
    enabled: bool = True
    limit: int = DEFAULT_LIMIT
    line: int = 0


@dataclass
class RuleSet:
    """The rules that loaded, and an error for each one that did not."""

    rules: list[Rule] = field(default_factory=list)
    errors: list[RuleError] = field(default_factory=list)
    path: Path | None = None

    @property
    def enabled(self) -> list[Rule]:
        return [r for r in self.rules if r.enabled]

    def get(self, name: str) -> Rule | None:
        return next((r for r in self.rules if r.name == name), None)


def rules_path(settings: config.Settings) -> Path:
    """`workflows.toml` in the config dir, unless the config file names another (`[workflows] file`)."""
    return settings.workflows_file or config.config_dir() / FILE_NAME


def example_text() -> str:
    """The example rules shipped with the package (data/workflows.toml)."""
    from importlib.resources import files

    return (files("crm_tui") / "data" / FILE_NAME).read_text(encoding="utf-8")


def load_rules(path: Path | None = None, *, text: str | None = None) -> RuleSet:
    """Read a rules file (see rules_path), or rules as text. A missing file is no rules, not an error."""
    if text is None:
        if path is None:
            raise ValueError("load_rules needs the rules file's path or the rules' text")
        if not path.exists():
            return RuleSet(path=path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            return RuleSet(errors=[RuleError(f"cannot read the rules file: {exc}", path=path)], path=path)
    return parse_rules(text, path=path)


def parse_rules(text: str, *, path: Path | None = None) -> RuleSet:
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if _HEADER.match(line)]
    result = RuleSet(path=path)
    preamble = "\n".join(lines[: starts[0] if starts else len(lines)])
    try:
        top = tomllib.loads(preamble)
    except tomllib.TOMLDecodeError as exc:
        result.errors.append(RuleError(f"not valid TOML: {_toml_message(exc, 0)}", line=_toml_line(exc, 0), path=path))
    else:
        for key in top:
            result.errors.append(RuleError(f"unknown setting {key!r}: the file holds [[rule]] tables only",
                                           line=_find_line(lines, 0, len(lines), key), path=path))
    seen: dict[str, int] = {}
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(lines)
        chunk = _Chunk(lines, start, end, path, fallback_name=f"#{n + 1}")
        try:
            rule = chunk.rule()
        except RuleError as exc:
            result.errors.append(exc)
            continue
        if rule.name in seen:
            result.errors.append(RuleError(f"a rule with this name is already on line {seen[rule.name]}; names must "
                                           "be unique (firings are recorded by name)", rule=rule.name,
                                           line=rule.line, path=path))
            continue
        seen[rule.name] = rule.line
        result.rules.append(rule)
    return result


def _toml_line(exc: tomllib.TOMLDecodeError, offset: int) -> int | None:
    m = _TOML_LINE.search(str(exc))
    return int(m[1]) + offset if m else None


def _toml_message(exc: tomllib.TOMLDecodeError, offset: int) -> str:
    return _TOML_LINE.sub(lambda m: f"at line {int(m[1]) + offset}", str(exc))


def _find_line(lines: list[str], start: int, end: int, key: str, value: Any = None) -> int:
    """The 1-based line of `key = ...` between start and end (with `value` on it when given)."""
    pattern = re.compile(rf"(^|[\s{{,\[])[\"']?{re.escape(key)}[\"']?\s*=")
    fallback = None
    for i in range(start, end):
        if pattern.search(lines[i]):
            if value is None or (isinstance(value, str) and value in lines[i]):
                return i + 1
            fallback = fallback or i + 1
    return fallback or start + 1


class _Chunk:
    """One [[rule]] and the lines it spans."""

    def __init__(self, lines: list[str], start: int, end: int, path: Path | None, fallback_name: str) -> None:
        self.lines, self.start, self.end, self.path = lines, start, end, path
        self.name = next((m[1] for i in range(start, end) if (m := _NAME.match(lines[i]))), fallback_name)

    def error(self, message: str, key: str | None = None, value: Any = None) -> RuleError:
        line = _find_line(self.lines, self.start, self.end, key, value) if key else self.start + 1
        return RuleError(message, rule=self.name, line=line, path=self.path)

    def rule(self) -> Rule:
        try:
            data = tomllib.loads("\n".join(self.lines[self.start:self.end]))
        except tomllib.TOMLDecodeError as exc:
            raise RuleError(f"not valid TOML: {_toml_message(exc, self.start)}", rule=self.name,
                            line=_toml_line(exc, self.start), path=self.path) from None
        extra = [k for k in data if k != "rule"]
        if extra:
            raise self.error(f"unknown table {extra[0]!r} after the rule: only [[rule]] tables can follow", extra[0])
        raw = data["rule"][0]
        name = raw.get("name")
        if not isinstance(name, str) or not name.strip():
            raise self.error("the rule needs a name (name = \"...\")")
        self.name = name = name.strip()
        if len(name) > 100:
            raise self.error("the name is longer than 100 characters", "name")
        for key in raw:
            if key not in RULE_KEYS:
                raise self.error(f"unknown key {key!r} (known: {', '.join(sorted(RULE_KEYS))})", key)
        enabled = raw.get("enabled", True)
        if not isinstance(enabled, bool):
            raise self.error("enabled must be true or false", "enabled")
        limit = raw.get("limit", DEFAULT_LIMIT)
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise self.error("limit must be a whole number of firings per run, at least 1", "limit")
        trigger = self._trigger(raw.get("trigger"))
        conditions = tuple(self._condition(c, trigger.entity) for c in self._list(raw.get("conditions"), "conditions"))
        actions = tuple(self._action(a, trigger) for a in self._list(raw.get("actions"), "actions"))
        if not actions:
            raise self.error("the rule has no actions (add [[rule.actions]] with a type)")
        return Rule(name=name, trigger=trigger, conditions=conditions, actions=actions,
                    description=str(raw.get("description", "")), enabled=enabled, limit=limit, line=self.start + 1)

    def _list(self, value: Any, key: str) -> list[dict]:
        if value is None:
            return []
        if isinstance(value, dict):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.error(f"{key} must be a list of tables, e.g. {key} = [{{ ... }}]", key)
        return value

    def _trigger(self, raw: Any) -> trigger_types.Trigger:
        if isinstance(raw, str):
            raw = {"type": raw}
        if not isinstance(raw, dict) or "type" not in raw:
            raise self.error(f"the rule needs a trigger, e.g. trigger = {{ type = \"deal_stale\", days = 14 }} "
                             f"(types: {', '.join(trigger_types.TYPES)})", "trigger")
        try:
            return trigger_types.parse(raw)
        except trigger_types.SpecError as exc:
            raise self.error(exc.message, exc.key or "trigger", exc.value) from None

    def _condition(self, raw: dict, entity: str) -> condition_fields.Condition:
        try:
            return condition_fields.parse(raw, entity)
        except trigger_types.SpecError as exc:
            raise self.error(exc.message, exc.key or "field", exc.value if exc.value is not None else raw.get("field")) \
                from None

    def _action(self, raw: dict, trigger: trigger_types.Trigger) -> action_types.Action:
        try:
            action = action_types.parse(raw, trigger)
            for key, template in action.templates():
                problem = check_template(template, trigger)
                if problem:
                    raise trigger_types.SpecError(f"{key}: {problem}", key, template)
            return action
        except trigger_types.SpecError as exc:
            raise self.error(exc.message, exc.key or "type", exc.value if exc.value is not None else raw.get("type")) \
                from None


def check_template(template: str, trigger: trigger_types.Trigger) -> str | None:
    """None if every {object.field} in `template` exists for this trigger, else what is wrong."""
    available = context_fields.objects_for(trigger)
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        return f"bad template {template!r}: {exc} (write {{{{ and }}}} for literal braces)"
    for _, name, _, _ in parsed:
        if name is None:
            continue
        if not name:
            return "empty {} in a template; name a field such as {deal.title}"
        head, _, rest = name.partition(".")
        head = head.split("[", 1)[0]
        if head not in available:
            return (f"unknown field {{{name}}}: a {trigger.type} rule has "
                    f"{', '.join('{' + o + '.…}' if context_fields.FIELDS[o] else '{' + o + '}' for o in available)}")
        attr = rest.split("[", 1)[0].split(".", 1)[0]
        if context_fields.FIELDS[head] and attr not in context_fields.FIELDS[head]:
            return f"unknown field {{{name}}}: {head} has {', '.join(sorted(context_fields.FIELDS[head]))}"
        if not context_fields.FIELDS[head] and rest:
            return f"unknown field {{{name}}}: {{{head}}} has no fields"
    return None
