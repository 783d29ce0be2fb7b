"""arbtui: the operator console (Textual app) and its command line."""

import os

# Textual paints at most TEXTUAL_FPS frames a second, and after a paint its next frame slot can be
# up to two slots away: at the default 60, a key's effect could wait 33 ms for its frame. The
# console paints only what changed (10-20 frames/s under a 20,000-update/s engine, see
# bench/console.py), so a higher cap costs nothing in steady state and halves that wait. It must be
# set before Textual is imported, which importing any arbtui module first does; an operator's own
# TEXTUAL_FPS wins.
os.environ.setdefault("TEXTUAL_FPS", "120")
