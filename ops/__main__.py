"""`python -m ops {setup,train,run,cluster,shell,contacts export|erase,kpis}` (see ops/cli.py)."""
from ops.cli import main

raise SystemExit(main())
