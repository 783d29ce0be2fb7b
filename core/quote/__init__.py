"""Exact integer quoters: each reproduces one program's swap arithmetic, rounding included."""
