"""`python -m bot` is `python -m ops` under its old name: the only module of bot/ that imports ops."""
from ops.cli import main

raise SystemExit(main(prog="python -m bot"))
