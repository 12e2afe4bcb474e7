"""Importing a team's spreadsheets (CSV, XLSX, JSON, vCard) into the CRM, in one transaction.

The modules, in the order a row meets them: read (the file, a chunk at a time), fields (the
header mapped to fields), values (a cell's text to a date, an amount, a flag), rows (a row on its
way in and the Kind a record type plugs in), kinds and users (each record type's cleaning, keys
and writes), match (links and duplicates looked up in bulk), perms (what the actor may write),
write (the set-based inserts) and run (the driver: options, the run, its report). Callers import
the public names from here.
"""

from crm_tui.services.importing.fields import CUSTOM_PREFIX, ENTITIES, HAS_CUSTOM, ColumnMap, Mapping, valid_fields
from crm_tui.services.importing.run import (
    ON_DUPLICATE, ImportFailed, ImportOptions, ImportReport, Preview, Problem, Skipped, check_allowed,
    check_options, preview_import, report_path, run_import, write_report_csv,
)

__all__ = [
    "CUSTOM_PREFIX", "ENTITIES", "HAS_CUSTOM", "ON_DUPLICATE", "ColumnMap", "ImportFailed", "ImportOptions",
    "ImportReport", "Mapping", "Preview", "Problem", "Skipped", "check_allowed", "check_options", "preview_import",
    "report_path", "run_import", "valid_fields", "write_report_csv",
]
