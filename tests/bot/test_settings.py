"""Settings: env over file, every problem reported at once, secrets never shown."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.settings import Secret, load_settings
from handlers.redact import redact_url


def test_defaults(tmp_path: Path) -> None:
    settings = load_settings({}, cwd=tmp_path)
    assert settings.redis_url is None
    assert settings.poll_interval == 600
    assert settings.http_port == 3000
    assert settings.managers == ("admins",)
    assert settings.config_path is None


def test_file_then_environment(tmp_path: Path) -> None:
    (tmp_path / "newsbot.toml").write_text(
        'poll_interval = 120\ntimezone = "Europe/Berlin"\nmanagers = ["U1", "U2"]\n'
        'discord_guild_ids = [1, 2]\n[[feeds]]\nurl = "https://example.com/feed"\npriority = 2\n'
    )
    settings = load_settings(
        {"NEWSBOT_POLL_INTERVAL": "0.5", "NEWSBOT_MANAGERS": "U3, U4"}, cwd=tmp_path
    )
    assert settings.poll_interval == 0.5
    assert settings.timezone == "Europe/Berlin"
    assert settings.managers == ("U3", "U4")
    assert settings.discord_guild_ids == (1, 2)
    assert settings.feeds[0]["priority"] == 2
    assert settings.config_path == tmp_path / "newsbot.toml"


def test_every_problem_is_listed(tmp_path: Path) -> None:
    (tmp_path / "newsbot.toml").write_text('slack_bot_token = "xoxb-secret-value"\nbogus = 1\n')
    env = {
        "NEWSBOT_POLL_INTERVAL": "-3",
        "NEWSBOT_HTTP_PORT": "http",
        "NEWSBOT_TIMEZONE": "Mars/Olympus",
        "NEWSBOT_ALLOW_PRIVATE_NETWORKS": "maybe",
        "NEWSBOT_LOG_FORMAT": "xml",
    }
    with pytest.raises(ConfigError) as caught:
        load_settings(env, cwd=tmp_path)
    message = str(caught.value)
    assert len(caught.value.problems) == 7
    for fragment in (
        "NEWSBOT_POLL_INTERVAL",
        "NEWSBOT_HTTP_PORT",
        "Mars/Olympus",
        "maybe",
        "NEWSBOT_LOG_FORMAT",
        "slack_bot_token is a secret",
        "unknown setting 'bogus'",
    ):
        assert fragment in message
    assert "xoxb-secret-value" not in message


def test_password_in_redis_url_only_from_environment(tmp_path: Path) -> None:
    (tmp_path / "newsbot.toml").write_text('redis_url = "redis://:hunter2@db:6379/0"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings({}, cwd=tmp_path)
    assert "hunter2" not in str(caught.value)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    settings = load_settings({"NEWSBOT_REDIS_URL": "redis://:hunter2@db:6379/0"}, cwd=elsewhere)
    assert "hunter2" not in repr(settings)


def test_secrets_never_show(tmp_path: Path) -> None:
    settings = load_settings(
        {"SLACK_BOT_TOKEN": "xoxb-123", "DISCORD_TOKEN": "abc.def"}, cwd=tmp_path
    )
    assert isinstance(settings.slack_bot_token, Secret)
    assert settings.slack_bot_token.reveal() == "xoxb-123"
    assert "xoxb-123" not in repr(settings) and "abc.def" not in repr(settings)
    assert redact_url("redis://user:pw@host:6380/1") == "redis://user:***@host:6380/1"


def test_invalid_settings_exit_2_with_one_message(tmp_path: Path) -> None:
    env = {
        "NEWSBOT_POLL_INTERVAL": "zero",
        "NEWSBOT_RETENTION_DAYS": "0",
        "PATH": "/usr/bin:/bin",
        "NEWSBOT_DATA_DIR": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "-m", "bot", "check"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "NEWSBOT_POLL_INTERVAL" in done.stderr and "NEWSBOT_RETENTION_DAYS" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ('redis_url = "redis://db:6379/0?password=s3cret"', "s3cret"),
        ('llm_url = "https://user:pw1234@llm.example.com/v1"', "pw1234"),
        ('llm_url = "https://llm.example.com/v1?api_key=k3y"', "k3y"),
    ],
)
def test_a_secret_in_any_url_setting_is_refused_from_the_file(
    tmp_path: Path, line: str, secret: str
) -> None:
    (tmp_path / "newsbot.toml").write_text(line + "\n")
    with pytest.raises(ConfigError) as caught:
        load_settings({}, cwd=tmp_path)
    assert "inside the URL is a secret" in str(caught.value)
    assert secret not in str(caught.value)


@pytest.mark.parametrize(
    ("raw", "seconds"), [("900", 900.0), ("30s", 30.0), ("15m", 900.0), ("1h", 3600.0)]
)
def test_the_probe_of_held_channels_takes_a_duration(
    tmp_path: Path, raw: str, seconds: float
) -> None:
    assert load_settings({"NEWSBOT_REFUSED_PROBE": raw}, cwd=tmp_path).refused_probe == seconds
    assert load_settings({}, cwd=tmp_path).refused_probe == 900.0


def test_a_duration_that_is_not_one_says_how_to_write_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="a duration such as 900, 30s, 15m or 1h"):
        load_settings({"NEWSBOT_REFUSED_PROBE": "soon"}, cwd=tmp_path)
