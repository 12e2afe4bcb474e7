"""The app's screens, one folder per area: contacts/, companies/, pipeline/ (the board, a deal, the
pipelines' settings), inbox/, reports/ and settings/ (roles, import, duplicates), each with its
dialogs and its .tcss beside it. The modules here are shared by them all: base (the area frame),
detail (the one DetailScreen of a record), forms (the one FormScreen, and the forms every area
uses), conflict, activity, help and welcome. No folder imports another: a screen opens a record
through the app (`app.open_record(kind, id)`), and the areas are listed once, in crm_tui/areas.py."""
