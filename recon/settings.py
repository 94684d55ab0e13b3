"""Settings: the environment plus one TOML file, decoded once into msgspec Structs.

Secrets never sit in the file: it names the environment variables that hold them, and
`load_settings` reads those variables once. Any problem (unknown key, bad time, bad URL, unset
secret) raises `SettingsError` with one line naming the key and the problem.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from datetime import time, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from recon.errors import SettingsError
from recon.schemas import In

DEFAULT_DATABASE_URL = "sqlite:///./var/recon.db"
CHANNEL_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
DURATION = re.compile(r"^(\d+)\s*([smhd])$")
DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class _Config(In):
    pass


class Schedule(_Config, kw_only=True):
    nightly_at: str = "01:30"
    lookback_days: Annotated[int, msgspec.Meta(ge=0, le=366)] = 7
    retry_every: str = "30m"


class Thresholds(_Config, kw_only=True):
    write_off_approval: Annotated[int, msgspec.Meta(ge=0, le=10**15)] = 500_000


class Api(_Config, kw_only=True):
    # per API key and per server process (recon.auth.ratelimit); 0 means no limit
    # a thousand a second: a one-stop system at its busiest stays far below
    requests_per_minute: Annotated[int, msgspec.Meta(ge=0, le=10**7)] = 60_000


class _Channel(_Config, tag_field="adapter", kw_only=True):
    timeout_seconds: Annotated[float, msgspec.Meta(gt=0, le=300)] = 30.0


class MomoChannel(_Channel, tag="momo", kw_only=True):
    base_url: str
    partner_code: str
    access_key_env: str
    secret_key_env: str


class PortalChannel(_Channel, tag="portal", kw_only=True):
    base_url: str
    client_id: str
    client_secret_env: str


class BankChannel(_Channel, tag="bank", kw_only=True):
    base_url: str
    api_key_env: str
    settlement_accounts: list[str] = msgspec.field(default_factory=list)


class FileChannel(_Channel, tag="file", kw_only=True):
    # a shipped mapping name, or a table {canonical column: column name in the file}
    mapping: str | dict[str, str] | None = None


ChannelConfig = MomoChannel | PortalChannel | BankChannel | FileChannel

# which fields of each adapter name an environment variable holding a secret
SECRET_FIELDS: dict[type[_Channel], tuple[str, ...]] = {
    MomoChannel: ("access_key_env", "secret_key_env"),
    PortalChannel: ("client_secret_env",),
    BankChannel: ("api_key_env",),
    FileChannel: (),
}


class FileConfig(_Config, kw_only=True):
    timezone: str = "Asia/Ho_Chi_Minh"
    ward_name: str = "UBND phường"
    schedule: Schedule = msgspec.field(default_factory=Schedule)
    thresholds: Thresholds = msgspec.field(default_factory=Thresholds)
    api: Api = msgspec.field(default_factory=Api)
    # each channel is decoded on its own, so that an error can name the channel
    channels: dict[str, dict[str, Any]] = msgspec.field(default_factory=dict)


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the process needs, read once at start."""

    database_url: str  # SQLAlchemy async URL, driver made explicit
    config_path: str | None
    timezone: str
    ward_name: str
    schedule: Schedule
    thresholds: Thresholds
    channels: dict[str, ChannelConfig]
    # channel name -> {env-field name without "_env": secret value}
    secrets: dict[str, dict[str, str]]
    nightly_at: time
    retry_every: timedelta
    api: Api = msgspec.field(default_factory=Api)

    def channel_names(self) -> list[str]:
        return sorted(self.channels)


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    config_path = env.get("RECON_CONFIG") or None
    file_config = _read_config_file(config_path) if config_path else FileConfig()
    _check_timezone(file_config.timezone)
    nightly_at = parse_local_time(file_config.schedule.nightly_at, key="schedule.nightly_at")
    retry_every = parse_duration(file_config.schedule.retry_every, key="schedule.retry_every")
    secrets: dict[str, dict[str, str]] = {}
    channels: dict[str, ChannelConfig] = {}
    for name, table in file_config.channels.items():
        if not CHANNEL_NAME.match(name):
            raise SettingsError(
                f"channels.{name}: a channel name is lowercase letters, digits and _"
            )
        try:
            channel = channels[name] = msgspec.convert(table, ChannelConfig)
        except msgspec.ValidationError as exc:
            raise SettingsError(describe_validation_error(str(exc), f"channels.{name}")) from None
        base_url = getattr(channel, "base_url", None)
        if base_url is not None:
            _check_url(base_url, key=f"channels.{name}.base_url")
        secrets[name] = _read_secrets(name, channel, env)
    return Settings(
        database_url=database_url(env),
        config_path=config_path,
        timezone=file_config.timezone,
        ward_name=file_config.ward_name,
        schedule=file_config.schedule,
        thresholds=file_config.thresholds,
        channels=channels,
        secrets=secrets,
        nightly_at=nightly_at,
        retry_every=retry_every,
        api=file_config.api,
    )


def database_url(environ: Mapping[str, str] | None = None) -> str:
    """RECON_DATABASE_URL alone, for the commands that need nothing else (`recon db upgrade`
    migrates before the channels' secrets are in place, and whatever RECON_CONFIG holds)."""
    env = os.environ if environ is None else environ
    return normalise_database_url(env.get("RECON_DATABASE_URL") or DEFAULT_DATABASE_URL)


def _read_config_file(path: str) -> FileConfig:
    try:
        if Path(path).exists() and not Path(path).is_file():  # a folder, or a FIFO: it blocks
            raise SettingsError(f"RECON_CONFIG: {path} is not a file")
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise SettingsError(f"RECON_CONFIG: cannot read {path}: {exc.strerror}") from None
    try:
        data: Any = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"RECON_CONFIG: {path} is not valid TOML: {exc}") from None
    try:
        return msgspec.convert(data, FileConfig)
    except msgspec.ValidationError as exc:
        raise SettingsError(describe_validation_error(str(exc))) from None


_UNKNOWN_FIELD = re.compile(
    r"^Object contains unknown field `(?P<field>[^`]+)`(?: - at `\$(?P<at>.*)`)?$"
)
_MISSING_FIELD = re.compile(
    r"^Object missing required field `(?P<field>[^`]+)`(?: - at `\$(?P<at>.*)`)?$"
)
_AT = re.compile(r"^(?P<reason>.*) - at `\$(?P<at>.*)`$")


def describe_validation_error(message: str, prefix: str = "") -> str:
    """Turn msgspec's message into `key.path: problem`, one line."""
    for pattern, problem in ((_UNKNOWN_FIELD, "unknown key"), (_MISSING_FIELD, "missing key")):
        found = pattern.match(message)
        if found:
            return f"{_dotted(prefix, found['at'] or '', found['field'])}: {problem}"
    found = _AT.match(message)
    if found:
        at = found["at"]
        reason = found["reason"]
        if at == ".adapter" and reason.startswith("Invalid value"):
            reason = "unknown adapter (momo, portal, bank or file)"
        return f"{_dotted(prefix, at, '')}: {reason}"
    if message.startswith("Object missing required field `adapter`"):
        return f"{prefix}.adapter: missing key"
    return f"{prefix}: {message}" if prefix else message


def _dotted(prefix: str, at: str, field: str) -> str:
    path = at.lstrip(".").replace("[", ".").replace("]", "")
    parts = [p for p in (prefix, path, field) if p]
    return ".".join(parts) or "(top level)"


def _check_timezone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(f"timezone: unknown time zone {name!r}") from None
    if name != "Asia/Ho_Chi_Minh":
        # business days are defined in Vietnam's time; another zone would move every cut-off
        raise SettingsError("timezone: recon's business days are Asia/Ho_Chi_Minh")


def parse_local_time(text: str, *, key: str) -> time:
    found = re.fullmatch(r"(\d{2}):(\d{2})", text.strip())
    if not found or int(found[1]) > 23 or int(found[2]) > 59:
        raise SettingsError(f"{key}: {text!r} is not a time of day HH:MM")
    return time(int(found[1]), int(found[2]))


def parse_duration(text: str, *, key: str) -> timedelta:
    found = DURATION.fullmatch(text.strip())
    if not found or int(found[1]) == 0:
        raise SettingsError(f"{key}: {text!r} is not a duration such as 90s, 30m, 2h or 1d")
    return timedelta(seconds=int(found[1]) * DURATION_UNITS[found[2]])


def _check_url(url: str, *, key: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError(f"{key}: {url!r} is not an http(s) URL with a host")
    try:
        _ = parts.port
    except ValueError:
        raise SettingsError(f"{key}: {url!r} has a bad port") from None


def _read_secrets(name: str, channel: ChannelConfig, env: Mapping[str, str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for field in SECRET_FIELDS[type(channel)]:
        variable = getattr(channel, field)
        value = env.get(variable, "")
        if not value:
            raise SettingsError(
                f"channels.{name}.{field}: environment variable {variable} is not set"
            )
        values[field.removesuffix("_env")] = value
    return values


def normalise_database_url(url: str) -> str:
    """Map the accepted URL forms onto SQLAlchemy async drivers."""
    url = url.strip()
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise SettingsError(f"RECON_DATABASE_URL: {url!r} is not a database URL")
    drivers = {
        "sqlite": "sqlite+aiosqlite",
        "sqlite+aiosqlite": "sqlite+aiosqlite",
        "postgresql": "postgresql+asyncpg",
        "postgres": "postgresql+asyncpg",
        "postgresql+asyncpg": "postgresql+asyncpg",
        "postgresql+psycopg": "postgresql+psycopg",
    }
    if scheme not in drivers:
        raise SettingsError(
            f"RECON_DATABASE_URL: unsupported scheme {scheme!r} "
            "(use sqlite:///PATH, postgresql://, postgresql+asyncpg:// or postgresql+psycopg://)"
        )
    if drivers[scheme].startswith("sqlite") and not rest.startswith("/"):
        raise SettingsError(f"RECON_DATABASE_URL: {url!r}: write sqlite:///PATH")
    return f"{drivers[scheme]}://{rest}"
