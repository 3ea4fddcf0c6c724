"""`python -m ops.seed`: migrates the configured database, then loads the demo ERP's data.

What the demo data is, and how it is written, belongs to the ERP (`actions.backend.demo`); this
is only the operator's command for it, as `python -m ops setup` is.
"""
from __future__ import annotations

import datetime as dt
from typing import Optional

from actions.backend import demo
from ops import migrate


def seed(url: Optional[str] = None, today: Optional[dt.date] = None) -> bool:
    """Loads the demo data into a migrated database without it; False if it was already there."""
    return demo.seed(url, today)


def main() -> None:
    migrate.upgrade()
    if seed():
        print("Datos de demostración cargados. / Demo data loaded.")
    else:
        print("La base ya tenía datos; no se cambió nada. / Database already had data; nothing changed.")


if __name__ == "__main__":
    main()
