"""`python -m arbtui` is the `arbtui` command."""

from arbtui.cli import main

raise SystemExit(main())
