from __future__ import annotations

import stat
from pathlib import Path

import pytest

from tidings import config
from tidings.domain.errors import ConfigurationError


def test_defaults_put_everything_under_data(tmp_path: Path) -> None:
    settings = config.load(environ={})
    assert settings.data_dir == Path("data")
    assert settings.database_url == "sqlite:///data/tidings.db"
    assert settings.outbox_dir == Path("data/outbox")
    assert settings.smtp_urls == ()
    assert settings.inline_worker is True


def test_secret_key_is_generated_once_and_private(tmp_path: Path) -> None:
    first = config.load(environ={"TIDINGS_DATA_DIR": str(tmp_path / "d")})
    second = config.load(environ={"TIDINGS_DATA_DIR": str(tmp_path / "d")})
    key_file = tmp_path / "d" / "secret_key"
    assert first.secret_key == second.secret_key
    assert len(first.secret_key) >= 32
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_environment_beats_file_beats_default(tmp_path: Path) -> None:
    (tmp_path / "tidings.toml").write_text(
        'base_url = "https://file.example.org"\nport = 9000\nsecret_key = "0123456789abcdef0"\n')
    settings = config.load(environ={"TIDINGS_PORT": "9100"})
    assert settings.base_url == "https://file.example.org"
    assert settings.port == 9100
    assert settings.secret_key == "0123456789abcdef0"


def test_settings_are_frozen() -> None:
    settings = config.load(environ={}, secret_key="x" * 20)
    with pytest.raises(ValueError, match="frozen"):
        settings.port = 1  # type: ignore[misc]


@pytest.mark.parametrize(("env", "message"), [
    ({"TIDINGS_BASE_URL": "ftp://x"}, "TIDINGS_BASE_URL: must be an absolute http"),
    ({"TIDINGS_PORT": "eighty"}, "TIDINGS_PORT"),
    ({"TIDINGS_DATABASE_URL": "mysql://x"}, "TIDINGS_DATABASE_URL"),
    ({"TIDINGS_SECRET_KEY": "short"}, "at least 16"),
    ({"TIDINGS_SMTP_HOST": "x"}, "unknown setting(s) TIDINGS_SMTP_HOST"),
    ({"TIDINGS_LOG_LEVEL": "loud"}, "TIDINGS_LOG_LEVEL"),
])
def test_bad_values_are_reported_by_name(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        config.load(environ=env, secret_key="x" * 20) if "SECRET" not in str(env) \
            else config.load(environ=env)
    assert message in caught.value.message


def test_unknown_file_key_and_bad_toml_are_reported(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("colour = 'blue'\n")
    with pytest.raises(ConfigurationError, match="unknown setting"):
        config.load(environ={"TIDINGS_CONFIG": str(bad)})
    bad.write_text("port = \n")
    with pytest.raises(ConfigurationError, match="not valid TOML"):
        config.load(environ={"TIDINGS_CONFIG": str(bad)})


def test_postgres_urls_get_the_psycopg_driver() -> None:
    settings = config.load(environ={"TIDINGS_DATABASE_URL": "postgresql://u@h/db"},
                           secret_key="x" * 20)
    assert settings.database_url == "postgresql+psycopg://u@h/db"
    assert not settings.is_sqlite


def test_smtp_urls_split_on_commas_and_spaces() -> None:
    settings = config.load(environ={"TIDINGS_SMTP_URL": "smtp://a:587, smtps://b:465  smtp://c"},
                           secret_key="x" * 20)
    assert settings.smtp_urls == ("smtp://a:587", "smtps://b:465", "smtp://c")
