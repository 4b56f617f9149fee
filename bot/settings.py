"""Settings from the environment and `newsbot.toml`, validated in one pass.

The table in docs/contracts.md is the contract: a TOML key is the variable's name in lower case
without `NEWSBOT_`; the environment wins over the file; lists are comma-separated in the
environment and arrays in TOML; secrets (tokens, signing secrets, passwords inside URLs) are
accepted only from the environment.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import platformdirs

from bot.errors import ConfigError
from handlers.redact import has_secret


class Secret:
    """A string that never shows itself in reprs, logs or error text."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Every setting newsbot reads; build it with `load_settings`."""

    redis_url: Secret | None = None
    data_dir: Path = field(default_factory=lambda: Path(platformdirs.user_data_dir("newsbot")))
    config_path: Path | None = None
    http_port: int = 3000
    public_url: str | None = None
    poll_interval: float = 600.0
    feed_failing_notice: float = 86400.0
    claim_idle: float = 60.0
    allow_private_networks: bool = False
    slack_bot_token: Secret | None = None
    slack_signing_secret: Secret | None = None
    slack_app_token: Secret | None = None
    slack_api_url: str = "https://slack.com/api/"
    # OAuth mode (many workspaces): the app's credentials, and the key that seals the
    # installations' tokens in Redis.
    slack_client_id: str | None = None
    slack_client_secret: Secret | None = None
    slack_state_secret: Secret | None = None
    slack_authorize_url: str = "https://slack.com/oauth/v2/authorize"
    secret_key: Secret | None = None
    discord_token: Secret | None = None
    discord_api_url: str = "https://discord.com/api/v10"
    discord_gateway_url: str | None = None
    discord_guild_ids: tuple[int, ...] = ()
    discord_shards: int = 1
    llm_url: str | None = None
    llm_model: str | None = None
    llm_api_key: Secret | None = None
    llm_daily_tokens: int = 200_000
    timezone: str = "UTC"
    retention_days: int = 30
    first_fetch_max: int = 5
    instant_burst: int = 5
    subscriptions_per_channel: int = 50
    subscriptions_per_workspace: int = 500
    refused_channel_days: int = 30
    refused_probe: float = 900.0
    delivery_max_attempts: int = 10
    search_budget_ms: float = 200.0
    http_host: str = "127.0.0.1"
    enrich_max_per_poll: int = 20
    managers: tuple[str, ...] = ("admins",)
    alert_query_max: int = 200
    alerts_per_user: int = 25
    log_level: str = "info"
    log_format: str = "text"
    # Per-feed and per-channel tables that have no environment form.
    feeds: tuple[Mapping[str, Any], ...] = ()
    channels: tuple[Mapping[str, Any], ...] = ()

    @property
    def retention_seconds(self) -> int:
        return self.retention_days * 86400

    @property
    def slack_oauth(self) -> bool:
        """Slack in OAuth mode: installed into any number of workspaces, a token each."""
        return self.slack_client_id is not None

    @property
    def page_url(self) -> str:
        """Where people reach the HTTP server, without a trailing slash."""
        return (self.public_url or f"http://127.0.0.1:{self.http_port}").rstrip("/")


Parser = Callable[[Any], Any]


def _parse_bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError("expected true or false")


def _parse_int(minimum: int, maximum: int | None = None) -> Parser:
    def parse(raw: Any) -> int:
        if isinstance(raw, bool):
            raise ValueError("expected a whole number")
        try:
            value = int(str(raw).strip())
        except ValueError:
            raise ValueError("expected a whole number") from None
        if value < minimum or (maximum is not None and value > maximum):
            bound = f"from {minimum} to {maximum}" if maximum is not None else f">= {minimum}"
            raise ValueError(f"must be {bound}")
        return value

    return parse


def _parse_positive_float(raw: Any) -> float:
    try:
        value = float(str(raw).strip())
    except ValueError:
        raise ValueError("expected a number of seconds") from None
    if not value > 0 or value != value or value == float("inf"):
        raise ValueError("must be a positive number of seconds")
    return value


def _parse_host(raw: Any) -> str:
    """An address to bind: an IP address (0.0.0.0 or :: for every interface)."""
    text = str(raw).strip()
    try:
        ipaddress.ip_address(text)
    except ValueError:
        raise ValueError("expected an IP address to listen on, e.g. 127.0.0.1 or 0.0.0.0") from None
    return text


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _parse_duration(raw: Any) -> float:
    """Seconds, or a number with a unit: ``900``, ``30s``, ``15m``, ``1h``, ``1d``."""
    text = str(raw).strip().lower()
    unit = _UNITS.get(text[-1:], 0) if text else 0
    try:
        return _parse_positive_float(text[:-1] if unit else text) * (unit or 1)
    except ValueError:
        raise ValueError("expected a duration such as 900, 30s, 15m or 1h") from None


def _parse_list(raw: Any) -> tuple[str, ...]:
    items = raw if isinstance(raw, list) else str(raw).split(",")
    return tuple(str(item).strip() for item in items if str(item).strip())


def _parse_guild_ids(raw: Any) -> tuple[int, ...]:
    try:
        return tuple(int(item) for item in _parse_list(raw))
    except ValueError:
        raise ValueError("expected numeric guild ids, comma-separated") from None


def _parse_http_url(raw: Any) -> str:
    text = str(raw).strip()
    parts = urlsplit(text)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ValueError("expected an http(s) URL")
    return text


def _parse_secret_key(raw: Any) -> Secret:
    text = str(raw).strip()
    if len(text) < 32:
        raise ValueError(
            "must be at least 32 characters; make one with "
            "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    return Secret(text)


_OAUTH = ("SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET", "SLACK_STATE_SECRET")


def _slack_mode_problems(values: Mapping[str, Any]) -> list[str]:
    """Slack runs with one bot token or in OAuth mode (any number of workspaces), never
    both; OAuth mode needs all its settings, the key that seals tokens, the signing
    secret (its events come over HTTP) and an https address for Slack to redirect to."""
    oauth = [env for env, name in zip(_OAUTH, _OAUTH_NAMES, strict=True) if values.get(name)]
    if not oauth:
        return []
    problems = []
    if values.get("slack_bot_token") is not None:
        problems.append(
            "SLACK_BOT_TOKEN and SLACK_CLIENT_ID are both set: use one bot token (one "
            "workspace) or OAuth (any number of workspaces), not both"
        )
    missing = [env for env in _OAUTH if env not in oauth]
    if missing:
        problems.append(f"OAuth mode needs {', '.join(missing)} too")
    if values.get("secret_key") is None:
        problems.append(
            "OAuth mode keeps each workspace's tokens in Redis, sealed: set NEWSBOT_SECRET_KEY"
        )
    if values.get("slack_signing_secret") is None:
        problems.append(
            "OAuth mode receives commands and events over HTTP: set SLACK_SIGNING_SECRET"
        )
    if values.get("slack_app_token") is not None:
        problems.append("SLACK_APP_TOKEN (Socket Mode) does not serve many workspaces; unset it")
    public = urlsplit(str(values.get("public_url") or ""))
    loopback = public.hostname in {"127.0.0.1", "localhost", "::1"}
    if public.scheme != "https" and not (public.scheme == "http" and loopback):
        problems.append(
            "OAuth mode needs NEWSBOT_PUBLIC_URL to be the https address Slack redirects to "
            "(http only on loopback, for tests)"
        )
    return problems


_OAUTH_NAMES = ("slack_client_id", "slack_client_secret", "slack_state_secret")


def _parse_ws_url(raw: Any) -> str:
    text = str(raw).strip()
    if urlsplit(text).scheme not in {"ws", "wss"}:
        raise ValueError("expected a ws(s) URL")
    return text


# URL settings that may carry a password: accepted only from the environment when they do.
_URL_SETTINGS = frozenset({"redis_url", "llm_url"})


def _revealed(value: object) -> str:
    return value.reveal() if isinstance(value, Secret) else str(value)


def _parse_redis_url(raw: Any) -> Secret:
    text = str(raw).strip()
    if urlsplit(text).scheme not in {"redis", "rediss", "unix"}:
        raise ValueError("expected a redis://, rediss:// or unix:// URL")
    return Secret(text)


def _parse_timezone(raw: Any) -> str:
    name = str(raw).strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r} (use an IANA name like Europe/Berlin)"
        ) from None
    return name


def _parse_choice(*choices: str) -> Parser:
    def parse(raw: Any) -> str:
        value = str(raw).strip().lower()
        if value not in choices:
            raise ValueError(f"expected one of: {', '.join(choices)}")
        return value

    return parse


def _parse_managers(raw: Any) -> tuple[str, ...]:
    values = _parse_list(raw)
    if not values:
        raise ValueError("expected admins, everyone, or a list of user ids")
    if len(values) > 1 and {"admins", "everyone"} & set(values):
        raise ValueError("admins and everyone cannot be mixed with user ids")
    return values


def _parse_tables(raw: Any) -> tuple[Mapping[str, Any], ...]:
    if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
        raise ValueError("expected an array of tables")
    return tuple(raw)


@dataclass(frozen=True)
class _Spec:
    env: str
    parse: Parser
    secret: bool = False
    file_only: bool = False


_SPECS: dict[str, _Spec] = {
    "redis_url": _Spec("NEWSBOT_REDIS_URL", _parse_redis_url),
    "data_dir": _Spec("NEWSBOT_DATA_DIR", lambda raw: Path(str(raw)).expanduser()),
    "http_port": _Spec("NEWSBOT_HTTP_PORT", _parse_int(0, 65535)),
    "poll_interval": _Spec("NEWSBOT_POLL_INTERVAL", _parse_positive_float),
    "feed_failing_notice": _Spec("NEWSBOT_FEED_FAILING_NOTICE", _parse_positive_float),
    "claim_idle": _Spec("NEWSBOT_CLAIM_IDLE", _parse_positive_float),
    "allow_private_networks": _Spec("NEWSBOT_ALLOW_PRIVATE_NETWORKS", _parse_bool),
    "slack_bot_token": _Spec("SLACK_BOT_TOKEN", Secret, secret=True),
    "slack_signing_secret": _Spec("SLACK_SIGNING_SECRET", Secret, secret=True),
    "slack_app_token": _Spec("SLACK_APP_TOKEN", Secret, secret=True),
    "slack_api_url": _Spec("NEWSBOT_SLACK_API_URL", _parse_http_url),
    "slack_client_id": _Spec("SLACK_CLIENT_ID", lambda raw: str(raw).strip()),
    "slack_client_secret": _Spec("SLACK_CLIENT_SECRET", Secret, secret=True),
    "slack_state_secret": _Spec("SLACK_STATE_SECRET", Secret, secret=True),
    "slack_authorize_url": _Spec("NEWSBOT_SLACK_AUTHORIZE_URL", _parse_http_url),
    "secret_key": _Spec("NEWSBOT_SECRET_KEY", _parse_secret_key, secret=True),
    "discord_token": _Spec("DISCORD_TOKEN", Secret, secret=True),
    "discord_api_url": _Spec("NEWSBOT_DISCORD_API_URL", _parse_http_url),
    "discord_gateway_url": _Spec("NEWSBOT_DISCORD_GATEWAY_URL", _parse_ws_url),
    "discord_guild_ids": _Spec("NEWSBOT_DISCORD_GUILD_IDS", _parse_guild_ids),
    "discord_shards": _Spec("NEWSBOT_DISCORD_SHARDS", _parse_int(1, 1000)),
    "llm_url": _Spec("NEWSBOT_LLM_URL", _parse_http_url),
    "llm_model": _Spec("NEWSBOT_LLM_MODEL", lambda raw: str(raw).strip()),
    "llm_api_key": _Spec("NEWSBOT_LLM_API_KEY", Secret, secret=True),
    "llm_daily_tokens": _Spec("NEWSBOT_LLM_DAILY_TOKENS", _parse_int(0)),
    "timezone": _Spec("NEWSBOT_TIMEZONE", _parse_timezone),
    "retention_days": _Spec("NEWSBOT_RETENTION_DAYS", _parse_int(1, 3650)),
    "first_fetch_max": _Spec("NEWSBOT_FIRST_FETCH_MAX", _parse_int(0, 1000)),
    "instant_burst": _Spec("NEWSBOT_INSTANT_BURST", _parse_int(1, 1000)),
    "subscriptions_per_channel": _Spec("NEWSBOT_SUBSCRIPTIONS_PER_CHANNEL", _parse_int(1, 100_000)),
    "refused_channel_days": _Spec("NEWSBOT_REFUSED_CHANNEL_DAYS", _parse_int(1, 3650)),
    "refused_probe": _Spec("NEWSBOT_REFUSED_PROBE", _parse_duration),
    "delivery_max_attempts": _Spec("NEWSBOT_DELIVERY_MAX_ATTEMPTS", _parse_int(1, 1000)),
    "search_budget_ms": _Spec("NEWSBOT_SEARCH_BUDGET_MS", _parse_positive_float),
    "http_host": _Spec("NEWSBOT_HTTP_HOST", _parse_host),
    "public_url": _Spec("NEWSBOT_PUBLIC_URL", _parse_http_url),
    "subscriptions_per_workspace": _Spec(
        "NEWSBOT_SUBSCRIPTIONS_PER_WORKSPACE", _parse_int(1, 1_000_000)
    ),
    "enrich_max_per_poll": _Spec("NEWSBOT_ENRICH_MAX_PER_POLL", _parse_int(0, 1000)),
    "managers": _Spec("NEWSBOT_MANAGERS", _parse_managers),
    "alert_query_max": _Spec("NEWSBOT_ALERT_QUERY_MAX", _parse_int(10, 500)),
    "alerts_per_user": _Spec("NEWSBOT_ALERTS_PER_USER", _parse_int(1, 1000)),
    "log_level": _Spec("NEWSBOT_LOG_LEVEL", _parse_choice("debug", "info", "warning", "error")),
    "log_format": _Spec("NEWSBOT_LOG_FORMAT", _parse_choice("text", "json")),
    "feeds": _Spec("", _parse_tables, file_only=True),
    "channels": _Spec("", _parse_tables, file_only=True),
}

SETTING_NAMES = tuple(name for name, spec in _SPECS.items() if not spec.file_only)


def _toml_key_for(spec: _Spec, name: str) -> str:
    return name if spec.file_only else spec.env.lower().removeprefix("newsbot_")


def _config_path(env: Mapping[str, str], cwd: Path) -> tuple[Path | None, str | None]:
    explicit = env.get("NEWSBOT_CONFIG", "").strip()
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            return path, f"NEWSBOT_CONFIG: no such file: {path}"
        return path, None
    default = cwd / "newsbot.toml"
    return (default, None) if default.is_file() else (None, None)


def load_settings(
    env: Mapping[str, str] | None = None, *, cwd: Path | None = None, **overrides: Any
) -> Settings:
    """Read settings from `env` (default `os.environ`) and the config file, then `overrides`.

    Raises `ConfigError` listing every problem at once; no secret value appears in it.
    """
    env = os.environ if env is None else env
    problems: list[str] = []
    config_path, problem = _config_path(env, cwd or Path.cwd())
    file_values: dict[str, Any] = {}
    if problem:
        problems.append(problem)
    elif config_path is not None:
        try:
            file_values = tomllib.loads(config_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            problems.append(f"{config_path}: cannot read TOML: {exc}")

    by_toml_key = {_toml_key_for(spec, name): name for name, spec in _SPECS.items()}
    for key in file_values:
        if key not in by_toml_key:
            problems.append(f"{config_path}: unknown setting {key!r}")

    values: dict[str, Any] = {"config_path": config_path}
    for name, spec in _SPECS.items():
        toml_key = _toml_key_for(spec, name)
        raw: Any = None
        origin = ""
        if toml_key in file_values:
            if spec.secret:
                problems.append(
                    f"{config_path}: {toml_key} is a secret; set {spec.env} in the environment"
                )
                continue
            raw, origin = file_values[toml_key], f"{config_path}: {toml_key}"
        if not spec.file_only and env.get(spec.env, "").strip():
            raw, origin = env[spec.env], spec.env
        if raw is None:
            continue
        try:
            value = spec.parse(raw)
        except ValueError as exc:
            shown = "(hidden)" if spec.secret or name in _URL_SETTINGS else repr(str(raw))
            problems.append(f"{origin}: {exc}; got {shown}")
            continue
        if name in _URL_SETTINGS and origin != spec.env and has_secret(_revealed(value)):
            problems.append(
                f"{origin}: a password or token inside the URL is a secret; set {spec.env} "
                "in the environment"
            )
            continue
        values[name] = value
    values.update(overrides)
    problems += _slack_mode_problems(values)
    if problems:
        raise ConfigError(problems)
    known = {f.name for f in fields(Settings)}
    return Settings(**{k: v for k, v in values.items() if k in known})
