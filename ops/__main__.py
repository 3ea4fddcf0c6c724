"""`python -m ops {setup,train,run,shell,contacts export|erase}` (see ops/cli.py)."""
from ops.cli import main

raise SystemExit(main())
