"""Actions: what a firing does, through the services, as the workflow's system actor.

Every action runs inside the firing's transaction (so they all commit together or not at all) and
returns one line saying what it did; `preview` says what it would do and writes nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from crm_tui.clock import get_zone
from crm_tui.errors import CrmError, InvalidInput
from crm_tui.models import ActivityKind, Contact, ContactEmail, Lifecycle, Role, Source, User
from crm_tui.models.workflow import EmailOutbox, Notification, WorkflowCursor
from crm_tui.models.case import PRIORITIES
from crm_tui.services import activities, cases, companies, contacts, deals, mail_send, sla, tasks
from crm_tui.services.common import Actor
from crm_tui.services.dates import parse_when
from crm_tui.workflows.conditions import resolve_field
from crm_tui.workflows.sql import insert_ignore
from crm_tui.workflows.triggers import SpecError, Trigger

_LOGIN = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,63}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CHECK_NOW = datetime(2026, 1, 5, 12, 0, tzinfo=timezone.utc)
SETTABLE = ("lifecycle", "source", "custom")


class ActionError(CrmError):
    """An action could not be done; the firing rolls back and is retried on a later run."""


@dataclass
class Env:
    """What actions need besides the firing: who acts, whether email is on, the firing's row."""

    actor: Actor
    email_enabled: bool = False
    firing_id: int | None = None
    rule: str = ""
    emails: list[int] = field(default_factory=list)
    sender: str | None = None  # the [smtp] sender: a rule's email goes from it


@dataclass(frozen=True)
class Action:
    type: str
    opts: dict = field(hash=False, compare=False)

    def __getitem__(self, key: str) -> Any:
        return self.opts.get(key)

    def templates(self) -> list[tuple[str, str]]:
        return [(k, self.opts[k]) for k in TEMPLATE_KEYS.get(self.type, ()) if isinstance(self.opts.get(k), str)]

    def describe(self) -> str:
        o = self.opts
        return {
            "create_task": lambda: f"create task {o['title']!r} due {o['due']} for {o['assignee']}",
            "assign_owner": lambda: f"assign owner {o['to']}" if o.get("to") else
            f"assign owner by {o['by']} ({', '.join(f'{k} -> {v}' for k, v in o['map'].items())}"
            + (f", else {o['default']})" if o.get("default") else ")"),
            "set_field": lambda: f"set {o['field']} = {o['value']!r}",
            "add_tag": lambda: f"add tag {o['tag']!r}",
            "remove_tag": lambda: f"remove tag {o['tag']!r}",
            "log_note": lambda: f"log note {o['body']!r}",
            "send_email": lambda: f"email {o['to']}: {o['subject']!r}",
            "notify": lambda: f"notify {o['to']}: {o['title']!r}",
            "assign_team": lambda: f"assign within team {o['team'] or '(the case’s)'} ({o['how'].replace('_', ' ')})",
            "raise_priority": lambda: f"raise priority to {o['to']}" if o.get("to") else "raise priority one step",
        }[self.type]()

    def run(self, session: Session, firing, env: Env) -> str:
        return RUNNERS[self.type](self, session, firing, env)

    def preview(self, session: Session, firing, env: Env) -> str:
        return PREVIEWS[self.type](self, session, firing, env)


# type -> {key: (required, default)}
SPECS: dict[str, dict[str, tuple[bool, Any]]] = {
    "create_task": {"title": (True, None), "due": (False, "+1d"), "assignee": (False, "owner"),
                    "notes": (False, None)},
    "assign_owner": {"to": (False, None), "by": (False, None), "map": (False, None), "default": (False, None)},
    "set_field": {"field": (True, None), "value": (True, None)},
    "add_tag": {"tag": (True, None)},
    "remove_tag": {"tag": (True, None)},
    "log_note": {"body": (True, None), "subject": (False, None)},
    "send_email": {"to": (False, "contact"), "subject": (True, None), "body": (True, None)},
    "notify": {"to": (False, "owner"), "title": (True, None), "body": (False, None)},
    # case rules: give the case to a teammate of a team (users.team; default the case's own team),
    # taking turns (round_robin) or to whoever has the fewest open cases (least_loaded)
    "assign_team": {"team": (False, None), "how": (False, "round_robin")},
    # case rules: one step up (low, normal, high, urgent), or up to a level
    "raise_priority": {"to": (False, None)},
}
TEMPLATE_KEYS = {"create_task": ("title", "notes"), "log_note": ("body", "subject"),
                 "send_email": ("subject", "body"), "notify": ("title", "body"), "set_field": ("value",)}
TYPES = tuple(SPECS)


# --- reading and checking -----------------------------------------------------------------


def parse(raw: dict, trigger: Trigger) -> Action:
    type_ = raw.get("type")
    if type_ not in SPECS:
        raise SpecError(f"unknown action {type_!r} (known: {', '.join(TYPES)})", "type", type_)
    spec = SPECS[type_]
    opts: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "type":
            continue
        if key not in spec:
            raise SpecError(f"unknown setting {key!r} for action {type_} (known: {', '.join(spec)})", key)
        if key != "map" and not isinstance(value, str):
            raise SpecError(f"{key} of {type_} must be text", key)
        opts[key] = value
    for key, (required, default) in spec.items():
        if key not in opts:
            if required:
                raise SpecError(f"action {type_} needs {key}", "type", type_)
            opts[key] = default
    _CHECKS.get(type_, lambda o, t: None)(opts, trigger)
    return Action(type_, opts)


def _check_who(value: str, key: str, *, allow: tuple[str, ...]) -> None:
    """who: owner, user:LOGIN (or a bare login), role:ROLE, and for email also contact or an address."""
    if value in allow:
        return
    if value.startswith("role:"):
        role = value[5:]
        if role not in {r.value for r in Role}:
            raise SpecError(f"unknown role {role!r} in {key} (known: {', '.join(r.value for r in Role)})", key, value)
        return
    if "address" in allow and _EMAIL.match(value):
        return
    login = value.removeprefix("user:")
    if not _LOGIN.match(login):
        raise SpecError(f"{key} = {value!r}: use {', '.join(a for a in allow if a != 'address')}, "
                        "user:LOGIN or role:ROLE" + (" or an email address" if "address" in allow else ""), key, value)


def _check_task(o: dict, t: Trigger) -> None:
    try:
        parse_when(o["due"], now=_CHECK_NOW)
    except InvalidInput as exc:
        raise SpecError(f"due: {exc.message}", "due", o["due"]) from None
    _check_who(o["assignee"], "assignee", allow=("owner",))


def _check_assign(o: dict, t: Trigger) -> None:
    if bool(o.get("to")) == bool(o.get("by")):
        raise SpecError("assign_owner needs either to = \"role:sales\" (or a user), or by = \"source\" with map = {...}",
                        "type", "assign_owner")
    if o.get("to"):
        _check_who(o["to"], "to", allow=())
        return
    resolve_field(o["by"], t.entity)
    if not isinstance(o.get("map"), dict) or not o["map"]:
        raise SpecError("by needs map = { value = \"user or role:ROLE\", ... }", "by", o["by"])
    for value in o["map"].values():
        if not isinstance(value, str):
            raise SpecError("each map entry names a user or role:ROLE", "map")
        _check_who(value, "map", allow=())
    if o.get("default"):
        _check_who(o["default"], "default", allow=())


def _check_set(o: dict, t: Trigger) -> None:
    name = o["field"].removeprefix("contact.")
    head = name.split(".", 1)[0]
    if head not in SETTABLE or (head == "custom" and not name.partition(".")[2]):
        raise SpecError(f"set_field can set the contact's lifecycle, source or custom.NAME, not {o['field']!r} "
                        "(tags: add_tag and remove_tag; owner: assign_owner)", "field", o["field"])
    if t.entity == "company":
        raise SpecError("set_field changes a contact, and a company rule has none", "field", o["field"])
    allowed = {"lifecycle": Lifecycle, "source": Source}.get(head)
    if allowed and o["value"] not in {m.value for m in allowed}:
        raise SpecError(f"unknown {head} {o['value']!r} (known: {', '.join(m.value for m in allowed)})", "value",
                        o["value"])
    o["field"] = name


def _check_tag(o: dict, t: Trigger) -> None:
    if t.entity == "company":
        raise SpecError("tags are on contacts, and a company rule has none", "tag", o["tag"])


def _check_case(o: dict, t: Trigger, type_: str) -> None:
    if t.entity != "case":
        raise SpecError(f"{type_} changes a case, and a {t.entity} rule has none", "type", type_)


def _check_assign_team(o: dict, t: Trigger) -> None:
    _check_case(o, t, "assign_team")
    if o["how"] not in HOW:
        raise SpecError(f"how must be {' or '.join(HOW)}, not {o['how']!r}", "how", o["how"])
    if o["team"] is not None and not o["team"].strip():
        raise SpecError("team names a team (users.team), e.g. team = \"Support\"", "team")


def _check_raise(o: dict, t: Trigger) -> None:
    _check_case(o, t, "raise_priority")
    if o["to"] is not None and o["to"].strip().lower() not in PRIORITIES:
        raise SpecError(f"unknown priority {o['to']!r} (known: {', '.join(PRIORITIES)})", "to", o["to"])


def _check_notify(o: dict, t: Trigger) -> None:
    """notify also goes to a team: "team" (a case's own) or "team:NAME" (any rule)."""
    to = o["to"]
    if to == "team":
        if t.entity != "case":
            raise SpecError("to = \"team\" is the case's team; a rule on other records names it: team:NAME", "to", to)
        return
    if to.startswith("team:"):
        if not to[5:].strip():
            raise SpecError("team:NAME names a team (users.team)", "to", to)
        return
    _check_who(to, "to", allow=("owner",))


HOW = ("round_robin", "least_loaded")
_CHECKS = {
    "create_task": _check_task, "assign_owner": _check_assign, "set_field": _check_set, "add_tag": _check_tag,
    "remove_tag": _check_tag,
    "send_email": lambda o, t: _check_who(o["to"], "to", allow=("contact", "owner", "address")),
    "notify": _check_notify, "assign_team": _check_assign_team, "raise_priority": _check_raise,
}


# --- who ------------------------------------------------------------------------------------


def _user(session: Session, login: str) -> User:
    user = session.scalars(select(User).where(User.login == login.lower())).first()
    if user is None or not user.active:
        raise ActionError(f"no active user {login!r}")
    return user


def _role_users(session: Session, role: str) -> list[User]:
    users = list(session.scalars(select(User).where(User.role == role, User.active.is_(True)).order_by(User.id)))
    if not users:
        raise ActionError(f"no active user has the role {role!r}")
    return users


def round_robin(session: Session, role: str, *, advance: bool = True) -> User:
    """The next active user of the role after the last one given work, and (with `advance`)
    remember them. The cursor row is locked for the rest of the firing's transaction."""
    users = _role_users(session, role)
    name = f"role:{role}"
    if advance:
        insert_ignore(session, WorkflowCursor, {"name": name, "last_user_id": None}, ["name"])
        last = session.scalar(select(WorkflowCursor.last_user_id).where(WorkflowCursor.name == name).with_for_update())
    else:
        last = session.scalar(select(WorkflowCursor.last_user_id).where(WorkflowCursor.name == name))
    chosen = next((u for u in users if last is None or u.id > last), users[0])
    if advance:
        session.execute(update(WorkflowCursor).where(WorkflowCursor.name == name).values(last_user_id=chosen.id))
    return chosen


def _who(session: Session, spec: str, firing, *, advance: bool = True) -> User | None:
    """One user: the record's owner, a named user, or the next of a role by round robin."""
    if spec == "owner":
        return firing.owner
    if spec.startswith("role:"):
        return round_robin(session, spec[5:], advance=advance)
    return _user(session, spec.removeprefix("user:"))


def _everyone(session: Session, spec: str, firing) -> list[User]:
    """Every user a notification goes to: the owner, a named user, or all of a role."""
    if spec == "owner":
        return [firing.owner] if firing.owner is not None and firing.owner.active else []
    if spec.startswith("role:"):
        return _role_users(session, spec[5:])
    if spec == "team" or spec.startswith("team:"):
        team = spec[5:] if spec.startswith("team:") else (firing.case.team if firing.case is not None else None)
        return sla.team_members(session, team) if team else []
    return [_user(session, spec.removeprefix("user:"))]


def _label(user: User | None) -> str:
    return user.login if user else "nobody"


# --- create_task --------------------------------------------------------------------------


def _task_data(action: Action, session: Session, firing, assignee: User | None) -> dict:
    zone = get_zone(assignee.timezone) if assignee is not None and assignee.timezone else firing.zone
    due = parse_when(action["due"], now=firing.now, zone=zone)
    links = {"deal_id": firing.deal.id if firing.deal else None,
             "contact_id": firing.contact.id if firing.contact else None}
    links["company_id"] = firing.company.id if firing.company and not any(links.values()) else None
    notes = firing.render(action["notes"]) if action["notes"] else None
    return {"title": firing.render(action["title"])[:300] or firing.rule, "notes": notes, "due_at": due,
            "assignee_id": assignee.id if assignee else None, "origin": "rule", "rule_name": firing.rule[:100],
            **links}


def _run_task(action: Action, session: Session, firing, env: Env) -> str:
    assignee = _who(session, action["assignee"], firing)
    task = tasks.create_task(session, data=_task_data(action, session, firing, assignee), actor=env.actor,
                             now=firing.now)
    return f"task #{task.id} {task.title!r} for {_label(assignee)}, due {task.due_at:%Y-%m-%d %H:%M} UTC"


def _preview_task(action: Action, session: Session, firing, env: Env) -> str:
    assignee = _who(session, action["assignee"], firing, advance=False)
    data = _task_data(action, session, firing, assignee)
    rr = " (round robin)" if action["assignee"].startswith("role:") else ""
    return f"create task {data['title']!r} for {_label(assignee)}{rr}, due {data['due_at']:%Y-%m-%d %H:%M} UTC"


# --- assign_owner -------------------------------------------------------------------------


def _owner_spec(action: Action, firing) -> str | None:
    if action["to"]:
        return action["to"]
    target, name, key = resolve_field(action["by"], firing.trigger.entity)
    record = getattr(firing, target)
    value = None
    if record is not None:
        value = (record.custom or {}).get(key) if name == "custom" else getattr(record, name, None)
    mapping = {str(k).lower(): v for k, v in action["map"].items()}
    spec = mapping.get(str(value).lower()) if value is not None else None
    return spec or action["default"]


def _assign(action: Action, session: Session, firing, env: Env, *, write: bool) -> str:
    spec = _owner_spec(action, firing)
    if not spec:
        return f"owner unchanged: no map entry for {action['by']} and no default"
    user = _who(session, spec, firing, advance=write)
    entity = firing.trigger.entity
    record = firing.record
    current = record.assignee_id if entity in ("task", "case") else record.owner_id
    if current == user.id:
        return f"owner already {user.login}"
    if not write:
        return f"assign {entity} #{record.id} to {user.login}" + (" (round robin)" if spec.startswith("role:") else "")
    if entity == "deal":
        deals.update_deal(session, deal_id=record.id, changes={"owner_id": user.id}, actor=env.actor, now=firing.now)
    elif entity == "contact":
        contacts.update_contact(session, contact_id=record.id, changes={"owner_id": user.id}, actor=env.actor,
                                now=firing.now)
    elif entity == "company":
        companies.update_company(session, company_id=record.id, changes={"owner_id": user.id}, actor=env.actor,
                                 now=firing.now)
    elif entity == "case":
        cases.assign(session, record.id, assignee_id=user.id, actor=env.actor, now=firing.now)
    else:
        tasks.assign_task(session, task_id=record.id, assignee_id=user.id, actor=env.actor, now=firing.now)
    firing.set_owner(user)  # the actions after this one see the new owner
    return f"{entity} #{record.id} now owned by {user.login}"


# --- contact fields -------------------------------------------------------------------------


def _set_field(action: Action, session: Session, firing, env: Env, *, write: bool) -> str:
    contact = firing.contact
    if contact is None:
        return f"{action['field']} not set: the {firing.trigger.entity} has no contact"
    value = firing.render(action["value"])
    name, _, key = action["field"].partition(".")
    # the firing's copy of the contact was read before this unit's lock: it says what to skip
    # in a preview, and a custom field goes to the service as a change to merge under the lock
    current = (contact.custom or {}).get(key) if name == "custom" else getattr(contact, name)
    if current == value:
        return f"{action['field']} already {value!r}"
    if write:
        changes, custom = ({}, {key: value}) if name == "custom" else ({name: value}, None)
        contacts.update_contact(session, contact_id=contact.id, changes=changes, custom_set=custom, actor=env.actor,
                                now=firing.now)
    return f"contact #{contact.id} {action['field']} = {value!r}"


def _tag(action: Action, session: Session, firing, env: Env, *, write: bool) -> str:
    contact = firing.contact
    verb = "add" if action.type == "add_tag" else "remove"
    if contact is None:
        return f"tag not {verb}ed: the {firing.trigger.entity} has no contact"
    tag = firing.render(action["tag"])
    if write:
        contacts.change_tags(session, contact_id=contact.id, actor=env.actor, now=firing.now,
                             **({"add": [tag]} if verb == "add" else {"remove": [tag]}))
    return f"{verb} tag {tag!r} on contact #{contact.id}"


# --- log_note -------------------------------------------------------------------------------


def _note(action: Action, session: Session, firing, env: Env, *, write: bool) -> str:
    body = firing.render(action["body"])
    subject = firing.render(action["subject"]) if action["subject"] else f"{firing.rule}"
    if not write:
        return f"log note {subject!r}: {body!r}"
    links = _links(firing)
    if not any(links.values()):
        return "note not logged: nothing to log it on"
    activity, _ = activities.log_activity(session, data={"kind": ActivityKind.NOTE.value, "subject": subject[:300],
                                                         "body": body, **links}, actor=env.actor, now=firing.now)
    return f"note #{activity.id} {subject!r}"


def _links(firing) -> dict:
    """The records an activity of this firing is logged on."""
    return {"contact_id": firing.contact.id if firing.contact else None,
            "deal_id": firing.deal.id if firing.deal else None,
            "company_id": firing.company.id if firing.company else None}


# --- send_email -------------------------------------------------------------------------------


def _address(session: Session, action: Action, firing) -> str | None:
    to = action["to"]
    if to == "contact":
        return firing.contact.email if firing.contact else None
    if _EMAIL.match(to):
        return to
    user = _who(session, to, firing, advance=False)
    return user.email if user else None


def _do_not_email(session: Session, address: str) -> bool:
    """Whether a contact with this address asked not to be emailed: rules send them nothing."""
    return bool(session.scalar(select(exists().where(ContactEmail.email == address.strip().lower(),
                                                     ContactEmail.contact_id == Contact.id,
                                                     Contact.do_not_email.is_(True)))))


def _email(action: Action, session: Session, firing, env: Env, *, write: bool) -> str:
    address = _address(session, action, firing)
    if not address:
        return f"email not sent: {action['to']} has no email address"
    if _do_not_email(session, address):
        return f"email not sent: {address} belongs to a contact marked \"do not email\""
    subject, body = firing.render(action["subject"])[:300], firing.render(action["body"])
    if not write:
        state = "" if env.email_enabled else " (SMTP is not configured: it would not be sent)"
        return f"email to {address}{state}\n  Subject: {subject}\n  " + "\n  ".join(body.splitlines())
    if not env.email_enabled:
        return f"email to {address} not sent: SMTP is not configured (see [smtp] in config.toml)"
    if action["to"] == "contact" or _EMAIL.match(action["to"]):
        # to a customer: stored as a message and logged on the timeline of its contact, company
        # and deal, in the transaction that queues it (and so moving the contact's last contact)
        queued = mail_send.send(
            session, draft=mail_send.Draft(to=[address], subject=subject, body=body, **_links(firing)),
            actor=env.actor, now=firing.now, source="workflow", rule=firing.rule, firing_id=env.firing_id,
            id_from=env.sender, outcome=f"sent by rule {firing.rule}"[:100])
        env.emails.append(queued.outbox_id)
        logged = f", logged as email #{queued.activity_ids[0]}" if queued.activity_ids else ""
        return f"email #{queued.outbox_id} to {address} queued: {subject!r}{logged}"
    email = EmailOutbox(firing_id=env.firing_id, rule=firing.rule[:100], to_addr=address, subject=subject, body=body,
                        status="queued", created_at=firing.now)
    session.add(email)
    session.flush()
    env.emails.append(email.id)
    return f"email #{email.id} to {address} queued: {subject!r}"


# --- notify ---------------------------------------------------------------------------------


def _notify(action: Action, session: Session, firing, env: Env, *, write: bool) -> str:
    users = _everyone(session, action["to"], firing)
    if not users:
        return f"nobody to notify: {action['to']} is nobody here"
    title = firing.render(action["title"])[:200]
    body = firing.render(action["body"]) if action["body"] else None
    if write:
        for user in users:
            session.add(Notification(user_id=user.id, title=title, body=body, entity=firing.trigger.entity,
                                     entity_id=firing.entity_id, rule=firing.rule[:100], firing_id=env.firing_id,
                                     created_at=firing.now))
        session.flush()
    return f"notify {', '.join(u.login for u in users)}: {title!r}"


# --- case actions: assign_team, raise_priority ----------------------------------------------------


def _assign_team(action: Action, session: Session, firing, env: Env, *, write: bool) -> str:
    case = firing.case
    team = (action["team"] or "").strip() or case.team
    if not team:
        return f"case #{case.id} not assigned: it has no team, and the rule names none"
    how = action["how"].replace("_", " ")
    try:
        user = sla.pick_in_team(session, team, action["how"], advance=write)
    except InvalidInput as exc:
        raise ActionError(exc.message) from None
    moved = action["team"] is not None and (case.team or "").lower() != team.lower()
    if user.id == case.assignee_id and not moved:
        return f"case #{case.id} already assigned to {user.login} ({how} in {team})"
    if not write:
        return f"assign case #{case.id} to {user.login} ({how} in {team})"
    cases.assign(session, case.id, assignee_id=user.id, **({"team": team} if moved else {}), actor=env.actor,
                 now=firing.now)
    firing.set_owner(user)
    firing.values["case"].assignee = user.login
    return f"case #{case.id} assigned to {user.login} ({how} in {team})"


def _raise_priority(action: Action, session: Session, firing, env: Env, *, write: bool) -> str:
    case = firing.case
    old = case.priority
    new = sla.raised(old, action["to"])
    if new == old:
        return f"case #{case.id} priority already {old}"
    if write:
        cases.set_priority(session, case.id, new, actor=env.actor, now=firing.now)
        firing.values["case"].priority = new
    return f"case #{case.id} priority {old} -> {new}"


def _both(fn):
    return (lambda a, s, f, e: fn(a, s, f, e, write=True)), (lambda a, s, f, e: fn(a, s, f, e, write=False))


RUNNERS: dict = {"create_task": _run_task}
PREVIEWS: dict = {"create_task": _preview_task}
for _type, _fn in (("assign_owner", _assign), ("set_field", _set_field), ("add_tag", _tag), ("remove_tag", _tag),
                   ("log_note", _note), ("send_email", _email), ("notify", _notify),
                   ("assign_team", _assign_team), ("raise_priority", _raise_priority)):
    RUNNERS[_type], PREVIEWS[_type] = _both(_fn)
