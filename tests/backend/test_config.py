"""Configuration rules that need no database: the signing key of a demo is never public."""

import os
import stat

import pytest

from backend import config


def test_development_key_is_generated_once_and_private(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setattr(config, "INSTANCE_DIR", tmp_path / "instance")
    first = config.load_config()["SECRET_KEY"]
    again = config.load_config()["SECRET_KEY"]
    key_file = tmp_path / "instance" / "secret_key"
    assert first == again and len(first) >= 48
    assert key_file.read_text().strip() == first
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    other = tmp_path / "other"
    monkeypatch.setattr(config, "INSTANCE_DIR", other)
    assert config.load_config()["SECRET_KEY"] != first  # another checkout, another key


def test_production_refuses_to_start_without_a_key(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setattr(config, "INSTANCE_DIR", tmp_path)
    with pytest.raises(config.ConfigError):
        config.load_config({"ENV_NAME": "production"})
    assert not (tmp_path / "secret_key").exists()


def test_a_broken_key_file_is_reported(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setattr(config, "INSTANCE_DIR", tmp_path)
    (tmp_path / "secret_key").write_text("short\n")
    monkeypatch.setattr(config.time, "sleep", lambda _seconds: None)
    with pytest.raises(config.ConfigError):
        config.load_config()
