"""`jito.rate_limit_per_s` and the secret `jito.auth_uuid`: validated, and never shown in clear."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from arbtui.cli import render_config_text
from core.config import LEGACY_ENV_NAMES, REDACTED, ConfigError, load_config, secret_keys

AUTH = "3f1c2b7e-9a4d-4e6f-8b21-5c0d7e9a1b34"


def test_defaults_are_one_request_per_second_and_no_auth() -> None:
    config = load_config(search_default_paths=False)
    assert config.jito.rate_limit_per_s == 1.0
    assert config.jito.auth_uuid.get_secret_value() == ""


def test_auth_uuid_is_the_only_secret_key() -> None:
    assert secret_keys() == {"jito.auth_uuid"}


@pytest.mark.parametrize("rate", [0, -1, 1001, "fast"])
def test_rate_limit_outside_its_range_is_refused_with_its_key(rate: object) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(overrides={"jito.rate_limit_per_s": rate}, search_default_paths=False)
    assert info.value.lines()[0].startswith("jito.rate_limit_per_s: ")


def test_auth_uuid_that_is_no_uuid_is_refused_without_echoing_it() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(overrides={"jito.auth_uuid": "hunter2-my-key"}, search_default_paths=False)
    text = str(info.value)
    assert "jito.auth_uuid: must be a UUID" in text
    assert "hunter2" not in text and REDACTED in text


def test_misspelt_auth_uuid_key_does_not_echo_the_secret(tmp_path: Path) -> None:
    path = tmp_path / "arb.toml"
    path.write_text(f'[jito]\nauth_uid = "{AUTH}"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    text = str(info.value)
    assert "did you mean 'jito.auth_uuid'" in text
    assert AUTH not in text


def test_auth_uuid_is_redacted_in_json_text_and_repr(tmp_path: Path) -> None:
    path = tmp_path / "arb.toml"
    path.write_text(f'[jito]\nauth_uuid = "{AUTH}"\nrate_limit_per_s = 5\n')
    config = load_config(path)
    assert config.jito.auth_uuid.get_secret_value() == AUTH
    assert config.jito.rate_limit_per_s == 5.0
    assert config.to_json_dict()["jito"]["auth_uuid"] == REDACTED
    for shown in (json.dumps(config.to_json_dict()), render_config_text(config, all_sources=True),
                  repr(config), str(config.jito)):
        assert AUTH not in shown


def test_auth_uuid_from_the_environment_never_reaches_config_show(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARB_") and k not in LEGACY_ENV_NAMES}
    env |= {"HOME": str(tmp_path / "home"), "ARB_JITO__AUTH_UUID": AUTH}
    outputs = []
    for args in (("config", "show"), ("config", "show", "--json", "--sources"), ("config", "check")):
        result = subprocess.run([sys.executable, "-m", "arbtui", *args], cwd=tmp_path, env=env,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        outputs.append(result.stdout + result.stderr)
    assert json.loads(outputs[1])["values"]["jito"]["auth_uuid"] == REDACTED
    assert "env ARB_JITO__AUTH_UUID" in outputs[0]
    assert all(AUTH not in out for out in outputs)
