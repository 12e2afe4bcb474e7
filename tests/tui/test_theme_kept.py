"""The theme a person chooses is the next launch's too: kept in their own config dir (not in the
shared database), read once at start."""

from __future__ import annotations

from crm_tui import config
from crm_tui.app import DARK, LIGHT, CrmApp
from tests.tui.conftest import settle


async def test_the_chosen_theme_is_kept_between_launches(db, actor, now):
    assert config.read_theme() is None
    app = CrmApp(db, actor, clock=lambda: now, welcome=False, inbox_refresh_s=None,
                 theme=config.read_theme(), remember_theme=config.save_theme)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert app.theme == DARK and not config.app_state_path().exists()  # nothing chosen, nothing written
        await pilot.press("ctrl+t")
        assert app.theme == LIGHT
    assert config.read_theme() == LIGHT and config.app_state_path().parent == config.config_dir()

    again = CrmApp(db, actor, clock=lambda: now, welcome=False, inbox_refresh_s=None,
                   theme=config.read_theme(), remember_theme=config.save_theme)
    async with again.run_test(size=(80, 24)) as pilot:
        await settle(again, pilot)
        assert again.theme == LIGHT


async def test_an_unknown_or_unreadable_theme_falls_back_to_the_default(db, actor, now):
    config.app_state_path().parent.mkdir(parents=True, exist_ok=True)
    config.app_state_path().write_text("{not json", encoding="utf-8")
    assert config.read_theme() is None
    app = CrmApp(db, actor, clock=lambda: now, welcome=False, inbox_refresh_s=None,
                 theme="no-such-theme", remember_theme=config.save_theme)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert app.theme == DARK
