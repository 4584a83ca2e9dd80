"""`python -m hyperprune` is the `hyperprune` command."""
from .cli import main

raise SystemExit(main())
