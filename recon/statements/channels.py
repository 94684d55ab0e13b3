"""From a configured channel to its adapter: the one place settings meet `adapters/`.

The adapters and the HTTP client are imported when an adapter is built, not with this module:
checking a channel's name (every `recon reconcile`) must not pay for them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from recon.errors import BadInput
from recon.settings import (
    BankChannel,
    ChannelConfig,
    FileChannel,
    MomoChannel,
    PortalChannel,
    Settings,
)

if TYPE_CHECKING:
    import httpx

    from adapters.base import ChannelAdapter, HttpOptions, RetryPolicy


def channel_config(settings: Settings, name: str) -> ChannelConfig:
    if name not in settings.channels:
        known = ", ".join(settings.channel_names()) or "none configured"
        raise BadInput(f"unknown channel {name!r} (channels: {known})")
    return settings.channels[name]


def is_file_fed(settings: Settings, name: str) -> bool:
    return isinstance(channel_config(settings, name), FileChannel)


def build_adapter(
    settings: Settings,
    name: str,
    client: httpx.AsyncClient,
    *,
    retry_policy: RetryPolicy | None = None,
) -> ChannelAdapter:
    import httpx

    from adapters.bank import BankAdapter
    from adapters.momo import MomoAdapter
    from adapters.portal import PortalAdapter

    config = channel_config(settings, name)
    if isinstance(config, FileChannel):
        raise BadInput(
            f"channel {name!r} is fed by files: use `recon statements import --channel {name}`"
        )
    secrets = settings.secrets.get(name, {})
    seconds = config.timeout_seconds
    http: HttpOptions = {
        "base_url": config.base_url,
        "timeout": httpx.Timeout(seconds, connect=min(5.0, seconds)),
        "retry_policy": retry_policy,
    }
    match config:
        case MomoChannel():
            return MomoAdapter(
                client,
                partner_code=config.partner_code,
                access_key=secrets["access_key"],
                secret_key=secrets["secret_key"],
                name=name,
                **http,
            )
        case PortalChannel():
            return PortalAdapter(
                client,
                client_id=config.client_id,
                client_secret=secrets["client_secret"],
                name=name,
                **http,
            )
        case BankChannel():
            return BankAdapter(
                client,
                api_key=secrets["api_key"],
                settlement_accounts=config.settlement_accounts,
                name=name,
                **http,
            )
