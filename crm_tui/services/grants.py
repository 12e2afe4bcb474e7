"""The default permission matrix (what each role may do until an admin changes it), readable
without the database: the app's first frame shows the keys and areas a role has by default while the
ORM is still loading (services/permissions.py lays the stored changes over these and checks them)."""

from __future__ import annotations

from crm_tui.shapes import Actor

ALL, OWN, NONE = "all", "own", "none"
SCOPES = (ALL, OWN, NONE)

# action -> what it lets a person do (read as "may <phrase>")
ACTIONS: dict[str, str] = {
    "contact.edit": "add, edit, tag, archive and merge contacts",
    "company.edit": "add, edit, archive and merge companies",
    "contact.assign": "give contacts and companies to another owner",
    "activity.log": "log calls, emails, meetings and notes",
    "deal.edit": "add, edit, move, win, lose and archive deals",
    "deal.assign": "give deals to another owner",
    "deal.price_override": "set a deal item's unit price other than the price list's",
    "task.edit": "add, complete, snooze and reschedule tasks",
    "task.assign": "give tasks to someone else",
    "report.view": "see the reports",
    "report.sources": "see the sources report",
    "goal.edit": "set and delete goals",
    "import.run": "import files",
    "data.export": "export records to files (CSV, JSON, vCard, iCalendar)",
    "view.admin": "change and delete the team's shared lists",
    "data.backup": "back up and restore the database",
    "pipeline.admin": "change pipelines, stages and lost reasons",
    "workflow.admin": "change and run the workflow rules",
    "user.admin": "add, change and deactivate users",
    "role.admin": "change what each role may do",
    "field.admin": "define custom fields, their types and choices",
    "template.edit": "add, edit and archive email templates",
    "sequence.edit": "add, edit and archive email sequences and their steps",
    "product.edit": "add, edit, price and archive products in the catalog",
    "fx.edit": "set, import and remove exchange rates",
    "case.view": "see support cases",
    "case.edit": "add, reply to, assign, resolve, close and merge support cases",
    "sla.admin": "change SLA policies, business hours and holidays",
    "survey.send": "send NPS surveys and see their answers",
}

_RECORDS = ("contact.edit", "company.edit", "contact.assign", "activity.log", "deal.edit", "deal.assign",
            "deal.price_override",
            "task.edit", "task.assign", "report.view", "report.sources", "goal.edit", "import.run", "data.export",
            "view.admin", "template.edit", "sequence.edit", "product.edit", "fx.edit", "case.view", "case.edit",
            "sla.admin", "survey.send")

DEFAULTS: dict[str, dict[str, str]] = {
    "admin": {action: ALL for action in ACTIONS},
    "manager": {action: ALL for action in _RECORDS},
    "sales": {"contact.edit": ALL, "company.edit": ALL, "contact.assign": OWN, "activity.log": ALL,
                 "deal.edit": OWN, "deal.assign": OWN, "task.edit": OWN, "task.assign": OWN, "report.view": OWN,
                 "report.sources": OWN, "view.admin": OWN, "template.edit": OWN, "sequence.edit": OWN,
                 "case.view": OWN},
    "marketing": {"contact.edit": ALL, "company.edit": ALL, "contact.assign": OWN, "activity.log": ALL,
                     "task.edit": OWN, "report.sources": ALL, "import.run": ALL, "data.export": ALL,
                     "view.admin": OWN, "template.edit": OWN, "sequence.edit": OWN},
    "support": {"contact.edit": ALL, "company.edit": ALL, "activity.log": ALL, "task.edit": OWN,
                   "view.admin": OWN, "template.edit": OWN, "case.view": ALL, "case.edit": ALL},
}


def role_defaults(actor: Actor) -> dict[str, str]:
    """capabilities() as the actor's role has them by default, read from no database: what the
    app shows until it has read the role's stored permissions (an admin may have changed them)."""
    if actor.is_system:
        return {action: ALL for action in ACTIONS}
    defaults = DEFAULTS.get(actor.role, {})
    return {action: defaults.get(action, NONE) for action in ACTIONS}
