"""`python -m metertwin` is the `metertwin` command."""

from metertwin.cli import main

raise SystemExit(main())
