"""The Import screen: pick a file, see how its columns map and its first rows, change the mapping
and the values rewritten on the way in, run a dry run and read its report, then import with a progress bar. The work is the import
service's (services.importing); this screen only gathers the options and shows the results."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen, Screen
from textual.widgets import Checkbox, DataTable, Input, OptionList, ProgressBar, Select, Static
from textual.widgets.option_list import Option

from crm_tui.widgets.key_bar import KeyBar
from crm_tui.screens.base import Outcome, ReportsWorkerErrors, WorkProgress, plain_cell
from crm_tui.services.importing import (
    CUSTOM_PREFIX, ENTITIES, HAS_CUSTOM, ON_DUPLICATE, ImportFailed, ImportOptions, ImportReport, Preview,
    preview_import, run_import, valid_fields,
)
from crm_tui.widgets.area_bar import AreaBar
from crm_tui.widgets.text_line import Paragraphs

SKIP = "(skip)"
REPORT_LINES = 50


_NAME_HINTS = {"contacts": ("contact", "people", "person", "lead"), "companies": ("compan", "account", "organi"),
               "deals": ("deal", "opportunit", "pipeline"), "activities": ("activit", "call", "meeting"),
               "tasks": ("task", "todo", "reminder")}


def guess_entity(path: str) -> str | None:
    """What a file holds, going by its name ("hubspot-deals.csv"); vCards hold contacts."""
    stem = Path(path).name.lower()
    if stem.endswith((".vcf", ".vcard")):
        return "contacts"
    found = [entity for entity, hints in _NAME_HINTS.items() if any(h in stem for h in hints)]
    return found[0] if len(found) == 1 else None


class FieldPicker(ModalScreen[str | None]):
    """Choose the field a column maps to: a field, a custom field, or skip it."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel", id="import_field.cancel")]

    def __init__(self, column: str, entity: str, current: str | None) -> None:
        super().__init__()
        self.column, self.entity, self.current = column, entity, current

    def compose(self) -> ComposeResult:
        options = [Option(SKIP, id=SKIP)] + [Option(f, id=f) for f in valid_fields(self.entity)]
        if self.entity in HAS_CUSTOM:
            custom = CUSTOM_PREFIX + self.column
            options.append(Option(Content(f"{custom} (custom field)"), id=custom))
        # a column's name is the file's text: shown as typed, never read as markup
        with Vertical(id="import-field-box"):
            yield Static(Content.from_markup("Map column [b]$column[/b] to:", column=self.column))
            yield OptionList(*options, id="import-field-list")

    def on_mount(self) -> None:
        picker = self.query_one(OptionList)
        try:
            picker.highlighted = picker.get_option_index(self.current or SKIP)
        except Exception:  # noqa: BLE001 - an unknown current field leaves the first option highlighted
            picker.highlighted = 0

    @on(OptionList.OptionSelected)
    def chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)


class ImportScreen(ReportsWorkerErrors, Screen):
    """Import a CSV, XLSX or vCard file into the CRM."""

    CSS_PATH = "import.tcss"
    AUTO_FOCUS = "#import-path"
    BINDINGS = [
        Binding("ctrl+r", "dry_run", "Dry run", id="import.dry_run"),
        Binding("ctrl+s", "run_import", "Import", id="import.run"),
        Binding("ctrl+o", "focus_mapping", "Mapping", id="import.mapping"),
        Binding("ctrl+l", "focus_path", "File", show=False, id="import.file"),
        Binding("escape", "close", "Back", id="import.close"),
    ]

    def __init__(self, path: str | None = None, entity: str = "contacts") -> None:
        super().__init__()
        self.initial_path, self.entity = path or "", entity
        self.overrides: dict[str, str] = {}
        self.preview: Preview | None = None
        self.running = False

    def compose(self) -> ComposeResult:
        yield AreaBar("contacts")
        with Horizontal(id="import-file-row"):
            yield Select([(e, e) for e in ENTITIES], value=self.entity, allow_blank=False, compact=True,
                         id="import-entity")
            yield Input(self.initial_path, placeholder="Path to a .csv, .xlsx, .json or .vcf file, then Enter",
                        compact=True, id="import-path")
        with Horizontal(id="import-options"):
            yield Select([(f"dupes: {d}", d) for d in ON_DUPLICATE], value="skip", allow_blank=False,
                         compact=True, id="import-duplicates", tooltip="What to do with a duplicate row")
            yield Select([("dates: ask", "none"), ("dates: d/m/y", "day"), ("dates: m/d/y", "month")],
                         value="none", allow_blank=False, compact=True, id="import-dates",
                         tooltip="How to read 03/04/2026 (ask: such dates are reported, not guessed)")
            yield Checkbox("skip invalid", compact=True, id="import-skip-invalid")
            yield Checkbox("new users", compact=True, id="import-create-users")
            yield Checkbox("custom", compact=True, id="import-custom")
        yield Input(placeholder="Rewrite values: field:from=to; … (or a .csv of field,from,to), Enter",
                    compact=True, id="import-values")
        yield Static("Type the path of a file and press Enter.", id="import-source")
        with Horizontal(id="import-body"):
            yield DataTable(cursor_type="row", zebra_stripes=True, id="import-mapping")
            yield DataTable(cursor_type="row", id="import-preview")
        yield Paragraphs(2, id="import-summary")  # a longer summary ends with "…"
        yield DataTable(cursor_type="row", id="import-report")
        yield ProgressBar(id="import-progress", show_eta=False)
        yield KeyBar()

    def on_mount(self) -> None:
        mapping = self.query_one("#import-mapping", DataTable)
        mapping.add_columns("Column", "Field")
        mapping.border_title = "Mapping (^o, Enter: change)"
        self.query_one("#import-preview", DataTable).border_title = "First rows"
        self.query_one("#import-report", DataTable).add_columns("Line", "Column", "Problem")
        self.query_one("#import-progress").display = False
        if self.initial_path:
            self.load_preview()

    # --- options -------------------------------------------------------------------------------

    def options(self) -> ImportOptions:
        dates = self.query_one("#import-dates", Select).value
        return ImportOptions(
            entity=str(self.query_one("#import-entity", Select).value),
            mapping=tuple(f"{column}={field}" for column, field in self.overrides.items()),
            custom=self.query_one("#import-custom", Checkbox).value,
            on_duplicate=str(self.query_one("#import-duplicates", Select).value),
            dayfirst={"day": True, "month": False}.get(str(dates)),
            create_users=self.query_one("#import-create-users", Checkbox).value,
            skip_invalid=self.query_one("#import-skip-invalid", Checkbox).value,
            currency=getattr(getattr(self.app, "settings", None), "currency", None) or "USD",
            **self._value_options(),
        )

    def _value_options(self) -> dict:
        """The rewrites box: "field:from=to" texts split at ";", or else the path of a values file."""
        text = self.query_one("#import-values", Input).value.strip()
        if not text:
            return {}
        if "=" in text:
            return {"values": tuple(part.strip() for part in text.split(";") if part.strip())}
        return {"values_file": text}

    @property
    def path(self) -> str:
        return self.query_one("#import-path", Input).value.strip()

    @on(Input.Submitted, "#import-path")
    def path_entered(self) -> None:
        self.overrides.clear()
        kind = self.query_one("#import-entity", Select)
        guess = guess_entity(self.path)
        if guess and guess != kind.value:
            kind.value = guess  # its Changed event loads the preview
            return
        self.load_preview()

    @on(Select.Changed, "#import-entity")
    @on(Checkbox.Changed, "#import-custom")
    @on(Input.Submitted, "#import-values")
    def mapping_inputs_changed(self, event) -> None:
        if isinstance(event, Select.Changed):
            self.overrides.clear()
        if self.path:
            self.load_preview()

    def action_focus_mapping(self) -> None:
        self.query_one("#import-mapping").focus()

    def action_focus_path(self) -> None:
        self.query_one("#import-path").focus()

    def action_close(self) -> None:
        if not self.running:
            self.dismiss()

    # --- preview ---------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="import-preview", exit_on_error=False)
    def load_preview(self) -> Outcome:
        path, options = self.path, self.options()
        try:
            preview = preview_import(path=path, options=options)
        except Exception as exc:  # noqa: BLE001 - shown on the screen, not raised into the app
            return Outcome(self._show_error, getattr(exc, "message", str(exc)))
        return Outcome(self._show_preview, preview)

    def _show_error(self, message: str) -> None:
        self.preview = None
        self.query_one("#import-source", Static).update(Content.from_markup("[b red]$message[/]", message=message))
        self.query_one("#import-mapping", DataTable).clear()
        self.query_one("#import-preview", DataTable).clear(columns=True)

    def _show_preview(self, preview: Preview) -> None:
        self.preview = preview
        self.query_one("#import-source", Static).update(Content(
            f"{Path(self.path).name}: {preview.source}, about {preview.estimated_rows:,} rows. "
            "ctrl+r dry run, ctrl+s import."))
        mapping = self.query_one("#import-mapping", DataTable)
        mapping.clear()
        # the file's text (its headers and cells) goes in as plain cells: a str cell is read as markup
        for column in preview.mapping.columns:
            label = plain_cell(column.field) if column.field else "[dim](skipped)[/]"
            mapping.add_row(plain_cell(column.column or "(no name)"), label, key=str(column.index))
        for name, value in preview.mapping.constants:
            mapping.add_row(plain_cell(f"--set {name}"), plain_cell(value))
        for name, old, new in preview.mapping.values:
            mapping.add_row(plain_cell(f"{name}: {old}"), plain_cell(f"→ {new or '(empty)'}"))
        table = self.query_one("#import-preview", DataTable)
        table.clear(columns=True)
        table.add_columns(*(Text(h or "?") for h in preview.headers))
        for cells in preview.rows:
            row = [plain_cell((c or "").replace("\n", " ")[:30]) for c in cells[:len(preview.headers)]]
            table.add_row(*(row + [""] * (len(preview.headers) - len(row))))

    @on(DataTable.RowSelected, "#import-mapping")
    def change_mapping(self, event: DataTable.RowSelected) -> None:
        if self.preview is None or event.row_key.value is None:
            return
        column = next(c for c in self.preview.mapping.columns if str(c.index) == event.row_key.value)

        def chosen(field: str | None) -> None:
            if field is None:
                return
            self.overrides[column.column] = "" if field == SKIP else field
            self.load_preview()

        self.app.push_screen(FieldPicker(column.column, self.preview.mapping.entity, column.field), chosen)

    # --- dry run and import ----------------------------------------------------------------------

    def action_dry_run(self) -> None:
        self._start(dry_run=True)

    def action_run_import(self) -> None:
        self._start(dry_run=False)

    def _start(self, *, dry_run: bool) -> None:
        if self.running:
            return
        if self.preview is None:
            self.notify("Load a file first: type its path and press Enter.", severity="warning")
            return
        self.running = True
        bar = self.query_one("#import-progress", ProgressBar)
        bar.update(total=max(1, self.preview.estimated_rows), progress=0)
        bar.display = True
        self.query_one("#import-summary", Paragraphs).update("Dry run…" if dry_run else "Importing…")
        self.execute(dry_run)

    @work(thread=True, exclusive=True, group="import-run", exit_on_error=False)
    def execute(self, dry_run: bool) -> Outcome:
        app, path, options = self.app, self.path, self.options()

        def progress(done: int, total: int) -> None:
            self.post_message(WorkProgress(done, total))

        report, error = None, None
        try:
            with (app.db.read() if dry_run else app.db.write()) as session:
                report = run_import(session, path=path, options=options, actor=app.actor, now=app.now(),
                                    dry_run=dry_run, progress=progress)
        except ImportFailed as exc:
            report = exc.report
        except Exception as exc:  # noqa: BLE001 - shown on the screen
            error = getattr(exc, "message", f"{exc.__class__.__name__}: {exc}")
        return Outcome(self._finished, report, error)

    @on(WorkProgress)
    def _progress(self, progress: WorkProgress) -> None:
        self.query_one("#import-progress", ProgressBar).update(total=max(1, progress.total), progress=progress.done)

    def _finished(self, report: ImportReport | None, error: str | None) -> None:
        self.running = False
        summary = self.query_one("#import-summary", Paragraphs)
        problems = self.query_one("#import-report", DataTable)
        problems.clear()
        if report is None:
            summary.update(Text(error or "", style="bold red"))  # the error quotes the file: never markup
            return
        if report.dry_run:
            head = Text.assemble(("Dry run", "bold"), ", nothing written")
        elif report.committed:
            head = Text("Imported", style="bold green")
            self.app.data_changed()
        else:
            head = Text.assemble(("Nothing imported", "bold red"),
                                 " (invalid or refused rows; tick 'skip invalid' to import the rest)")
        summary.update(Text.assemble(head, f": {report.summary(would=not report.committed)}."))
        for p in report.problems[:REPORT_LINES]:  # a problem quotes the file's text
            problems.add_row(str(p.line), plain_cell(p.column), plain_cell(p.message))
        for s in report.duplicates[:max(0, REPORT_LINES - len(report.problems))]:
            problems.add_row(str(s.line), "", plain_cell(f"duplicate: {s.reason}"))
