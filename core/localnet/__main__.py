"""`python -m core.localnet`: the same as `arbtui localnet`."""

from core.localnet.cli import main

raise SystemExit(main())
