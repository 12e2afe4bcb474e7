"""The actions on one contact (edit, log, task, deal, owner, tags, archive, copy email), shared by
the contact list and the contact detail. A screen mixes this in and says which contact is meant."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from textual import work
from textual.binding import Binding

from crm_tui.screens.base import Outcome
from crm_tui.services.start import load_orm

if TYPE_CHECKING:
    from crm_tui.models.schemas import ContactRead


def _forms():
    """screens/forms.py, and the services and models its forms use: loaded when the first action
    runs, not with the list (the app paints its first page before the ORM loads)."""
    load_orm()
    from crm_tui.screens import forms

    return forms


class ContactActions:
    """Mixed into a Screen that defines `highlighted_contact_id()` and `after_change()`."""

    ACTION_BINDINGS = [
        Binding("n", "new_contact", "New", id="contact.new"),
        Binding("e", "edit_contact", "Edit", id="contact.edit"),
        Binding("l", "log('call')", "Log call", id="contact.log_call"),
        Binding("L", "log('note')", "Log email/meeting/note", show=False, id="contact.log_other"),
        Binding("t", "add_task", "Task", id="contact.task"),
        Binding("d", "new_deal", "Deal", show=False, id="contact.deal"),
        Binding("o", "change_owner", "Owner", show=False, id="contact.owner"),
        Binding("T", "edit_tags", "Tags", show=False, id="contact.tags"),
        Binding("a", "archive", "Archive", show=False, id="contact.archive"),
        Binding("u", "unarchive", "Unarchive", show=False, id="contact.unarchive"),
        Binding("y", "copy_email", "Copy email", show=False, id="contact.copy_email"),
        Binding("E", "enrol", "Enrol in sequence", show=False, id="contact.enrol"),
    ]
    NEEDS = {"new_contact": "contact.edit", "edit_contact": "contact.edit", "edit_tags": "contact.edit",
             "archive": "contact.edit", "unarchive": "contact.edit", "change_owner": "contact.assign",
             "log": "activity.log", "add_task": "task.edit", "new_deal": "deal.edit", "enrol": "activity.log"}

    def highlighted_contact_id(self) -> int | None:
        raise NotImplementedError

    def after_change(self, contact: ContactRead | None = None) -> None:
        raise NotImplementedError

    # --- loading the contact, then acting on it --------------------------------------------------

    def _with_contact(self, then: Callable[[ContactRead], None]) -> None:
        contact_id = self.highlighted_contact_id()
        if contact_id is None:
            self.notify("No contact is highlighted.", severity="warning")
            return
        if hold := getattr(self.app, "hold_keys", None):
            hold()  # what is typed next is meant for the form the contact opens in
        self._load_contact(contact_id, then)

    @work(thread=True, group="contact-action", exit_on_error=False)
    def _load_contact(self, contact_id: int, then: Callable[[ContactRead], None]) -> Outcome:
        load_orm()
        from crm_tui.services import contacts

        with self.app.db.read() as session:
            contact = contacts.get_contact(session, contact_id=contact_id)
        return Outcome(then, contact)

    # --- a sequence (E): the enrol dialog's sequence picker, then services/sequences.enroll

    def action_enrol(self) -> None:
        def enrol(contact: ContactRead) -> None:
            from crm_tui.screens.sequence_enrol import EnrolForm

            self.app.push_screen(EnrolForm(contact.full_name or f"contact #{contact.id}", contact_ids=[contact.id]),
                                 self._enrolled)
        self._with_contact(enrol)

    def _enrolled(self, done) -> None:
        if done is not None:
            self.notify(done.message, title="Sequences", severity="information" if done.result.enrolled else "warning")
            self.after_change()

    def _saved(self, message: str) -> Callable:
        def done(result) -> None:
            if result:
                self.notify(message)
                self.after_change()
        return done

    # --- the actions ----------------------------------------------------------------------------

    def action_new_contact(self) -> None:
        def done(contact: ContactRead | None) -> None:
            if contact is not None:
                self.notify(f"Added {contact.full_name}.")
                self.after_change(contact)

        self.app.push_screen(_forms().ContactForm(None), done)

    def action_edit_contact(self) -> None:
        self._with_contact(lambda c: self.app.push_screen(_forms().ContactForm(c), self._saved(f"Saved {c.full_name}.")))

    def action_log(self, kind: str) -> None:
        def open_form(contact: ContactRead) -> None:
            def done(result) -> None:
                if result:
                    activity, task = result
                    extra = f"; follow-up due {task.due_at:%a %d %b}" if task is not None and task.due_at else ""
                    self.notify(f"Logged a {activity.kind} with {contact.full_name}{extra}.")
                    self.after_change()
            self.app.push_screen(_forms().LogActivityForm(contact_id=contact.id, kind=kind), done)

        self._with_contact(open_form)

    def action_add_task(self) -> None:
        self._with_contact(lambda c: self.app.push_screen(_forms().TaskForm(contact_id=c.id),
                                                          self._saved(f"Added a task for {c.full_name}.")))

    def action_new_deal(self) -> None:
        self._with_contact(lambda c: self.app.push_screen(_forms().DealForm(contact_id=c.id, company_id=c.company_id),
                                                          self._saved(f"Created a deal for {c.full_name}.")))

    def action_change_owner(self) -> None:
        self._with_contact(lambda c: self.app.push_screen(_forms().OwnerForm(c), self._saved(f"Changed the owner of {c.full_name}.")))

    def action_edit_tags(self) -> None:
        self._with_contact(lambda c: self.app.push_screen(_forms().TagsForm(c), self._saved(f"Updated the tags of {c.full_name}.")))

    def action_archive(self) -> None:
        def ask(contact: ContactRead) -> None:
            if contact.archived:
                self.notify(f"{contact.full_name} is already archived; u unarchives.", severity="warning")
                return

            def answer(yes: bool | None) -> None:
                if yes:
                    self._set_archived(contact.id, True, contact.full_name)

            self.app.push_screen(_forms().ConfirmScreen(f"Archive {contact.full_name}? It leaves every list; "
                                               "u undoes it.", "Archive"), answer)

        self._with_contact(ask)

    def action_unarchive(self) -> None:
        contact_id = getattr(self, "_last_archived", None) or self.highlighted_contact_id()
        if contact_id is None:
            self.notify("Nothing to unarchive.", severity="warning")
            return
        self._set_archived(contact_id, False, None)

    @work(thread=True, group="contact-action", exit_on_error=False)
    def _set_archived(self, contact_id: int, archived: bool, name: str | None) -> Outcome:
        load_orm()
        from crm_tui.services import contacts

        with self.app.db.write() as session:
            contact = contacts.set_contact_archived(session, contact_id=contact_id, archived=archived,
                                                    actor=self.app.actor, now=self.app.now())
        return Outcome(self._archived, contact, archived)

    def _archived(self, contact: ContactRead, archived: bool) -> None:
        self._last_archived = contact.id if archived else None
        if archived:
            self.notify(f"Archived {contact.full_name}. Press u to undo.")
        else:
            self.notify(f"{contact.full_name} is back in the lists.")
        self.after_change(contact)

    def action_copy_email(self) -> None:
        def copy(contact: ContactRead) -> None:
            if not contact.emails:
                self.notify(f"{contact.full_name} has no email address.", severity="warning")
                return
            self.app.copy_to_clipboard(contact.emails[0])
            self.notify(f"Copied {contact.emails[0]}")

        self._with_contact(copy)
