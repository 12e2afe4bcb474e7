"""Pipeline area: the board (board.py), a deal's screen and its dialogs (deal.py), the pipelines' settings (settings.py)."""
