"""README promises: exactly two set-up commands, CI runs the test one verbatim, generated config docs."""

from __future__ import annotations

import re
from pathlib import Path

from core.config import config_markdown

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()
CI = (REPO / ".ci" / "run").read_text()

CONSOLE_COMMAND = "python3 -m venv .venv && .venv/bin/pip install -q -e . && .venv/bin/arbtui"
TEST_COMMAND = (
    "python3 -m venv .venv && .venv/bin/pip install -q -e '.[dev]' && .venv/bin/python -m pytest -q"
)


def fenced_blocks(text: str) -> list[str]:
    return [block.strip() for block in re.findall(r"^```[^\n]*\n(.*?)^```", text, flags=re.M | re.S)]


def test_readme_has_exactly_the_two_setup_commands() -> None:
    assert fenced_blocks(README) == [CONSOLE_COMMAND, TEST_COMMAND]


def test_ci_runs_readme_test_command_verbatim() -> None:
    test_command = fenced_blocks(README)[1]
    assert test_command in CI.splitlines()
    assert "set -euo pipefail" in CI
    assert "apt-get update" in CI
    assert CI.index("apt-get update") < CI.index("apt-get install")


def test_ci_treats_no_tests_as_failure() -> None:
    assert re.search(r'"\$status" -eq 5 \]; then\s+echo[^\n]*\n\s+exit 1', CI)


def test_ci_script_is_executable() -> None:
    assert (REPO / ".ci" / "run").stat().st_mode & 0o111


def test_readme_contains_the_generated_config_reference() -> None:
    start = README.index("<!-- config-reference:start -->\n") + len("<!-- config-reference:start -->\n")
    end = README.index("<!-- config-reference:end -->")
    assert README[start:end] == config_markdown()


def test_readme_points_to_the_profit_guard_doc() -> None:
    assert "docs/profit_guard.md" in README
