"""The product picker: a form field that names a product by SKU or name (widgets/picker.py, searching
through services.lookup's "product" kind: bounded index range scans, instant at any catalog size).
A form reads `picked(screen, id_)` and resolves typed text with `pick_id(session, "product", value)`."""

from __future__ import annotations

from crm_tui.services.lookup import Choice
from crm_tui.widgets.picker import Picker


def product_choice(product_id: int | None, sku: str | None, name: str | None = None, unit: str = "") -> Choice | None:
    """A stored product as the picker shows it ("SKU · name")."""
    if product_id is None:
        return None
    return Choice("product", product_id, f"{sku} · {name}" if name else (sku or f"#{product_id}"), unit)


def product_picker(id_: str, choice: Choice | None = None, *, placeholder: str = "type a SKU or a product name"
                   ) -> Picker:
    """A Picker of products; its Input is `#id_`, the picker itself `#id_-picker`."""
    return Picker("product", id=id_, choice=choice, placeholder=placeholder)
