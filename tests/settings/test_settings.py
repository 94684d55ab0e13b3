"""Settings: read once; any problem refuses the start with one line naming the key."""

from __future__ import annotations

import os
from datetime import time, timedelta
from pathlib import Path

import pytest

from recon.errors import SettingsError
from recon.settings import BankChannel, FileChannel, MomoChannel, load_settings

DESIGN_EXAMPLE = """
timezone = "Asia/Ho_Chi_Minh"
ward_name = "UBND phường Hòa An"   # titles of exports and pages
[schedule]
nightly_at = "01:30"          # local time; reconciles the previous business day
lookback_days = 7             # catch-up reaches this far back
retry_every = "30m"           # a failed channel-day is retried this often
[thresholds]
write_off_approval = 500000   # VND; a larger write-off needs an approver
[channels.momo]
adapter = "momo"
base_url = "http://127.0.0.1:9101"
partner_code = "MOMOXYZ"
access_key_env = "RECON_MOMO_ACCESS_KEY"
secret_key_env = "RECON_MOMO_SECRET_KEY"
[channels.portal]
adapter = "portal"
base_url = "http://127.0.0.1:9102"
client_id = "ubnd-phuong"
client_secret_env = "RECON_PORTAL_SECRET"
[channels.bank]
adapter = "bank"
base_url = "http://127.0.0.1:9103"
api_key_env = "RECON_BANK_API_KEY"
settlement_accounts = []      # accounts whose incoming transfers are channel settlements
[channels.vnpay]
adapter = "file"              # fed only by `recon statements import`
mapping = "vnpay"             # a shipped mapping, or a table of column names
"""
SECRETS = {
    "RECON_MOMO_ACCESS_KEY": "a",
    "RECON_MOMO_SECRET_KEY": "b",
    "RECON_PORTAL_SECRET": "c",
    "RECON_BANK_API_KEY": "d",
}


def load(tmp_path: Path, toml: str, **env: str) -> object:
    path = tmp_path / "recon.toml"
    path.write_text(toml, encoding="utf-8")
    return load_settings({"RECON_CONFIG": str(path), **SECRETS, **env})


def refusal(tmp_path: Path, toml: str, **env: str) -> str:
    with pytest.raises(SettingsError) as caught:
        load(tmp_path, toml, **env)
    message = caught.value.detail
    assert "\n" not in message
    return message


def test_without_a_config_file_there_are_no_channels_and_the_defaults() -> None:
    settings = load_settings({})
    assert settings.channels == {}
    assert settings.database_url == "sqlite+aiosqlite:///./var/recon.db"
    assert settings.nightly_at == time(1, 30)
    assert settings.retry_every == timedelta(minutes=30)
    assert settings.schedule.lookback_days == 7
    assert settings.thresholds.write_off_approval == 500_000


def test_the_design_example_loads_with_its_secrets_from_the_environment(tmp_path: Path) -> None:
    settings = load(tmp_path, DESIGN_EXAMPLE)
    assert settings.ward_name == "UBND phường Hòa An"
    assert settings.channel_names() == ["bank", "momo", "portal", "vnpay"]
    assert isinstance(settings.channels["momo"], MomoChannel)
    assert isinstance(settings.channels["bank"], BankChannel)
    assert isinstance(settings.channels["vnpay"], FileChannel)
    assert settings.channels["vnpay"].mapping == "vnpay"
    assert settings.secrets["momo"] == {"access_key": "a", "secret_key": "b"}
    assert settings.secrets["portal"] == {"client_secret": "c"}
    assert settings.secrets["vnpay"] == {}


def test_a_mapping_may_be_a_table_of_column_names(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        '[channels.zalopay]\nadapter = "file"\nmapping = { channel_txn_id = "zp_trans_id" }\n',
    )
    assert settings.channels["zalopay"].mapping == {"channel_txn_id": "zp_trans_id"}


def test_an_unset_secret_variable_refuses_the_start_naming_key_and_variable(
    tmp_path: Path,
) -> None:
    path = tmp_path / "recon.toml"
    path.write_text(DESIGN_EXAMPLE, encoding="utf-8")
    env = {"RECON_CONFIG": str(path), **SECRETS}
    del env["RECON_PORTAL_SECRET"]
    with pytest.raises(SettingsError) as caught:
        load_settings(env)
    assert caught.value.detail == (
        "channels.portal.client_secret_env: environment variable RECON_PORTAL_SECRET is not set"
    )


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ('ward_nam = "x"\n', "ward_nam: unknown key"),
        ('[schedule]\nnightly = "01:30"\n', "schedule.nightly: unknown key"),
        (
            DESIGN_EXAMPLE.replace('partner_code = "MOMOXYZ"', 'partner_kode = "MOMOXYZ"'),
            "channels.momo.partner_kode: unknown key",
        ),
        ('[channels.x]\nadapter = "paypal"\n', "channels.x.adapter: unknown adapter"),
        ('[channels.x]\nadapter = "bank"\napi_key_env = "K"\n', "channels.x.base_url: missing key"),
        ("[thresholds]\nwrite_off_approval = -1\n", "thresholds.write_off_approval:"),
        ('[thresholds]\nwrite_off_approval = "500000"\n', "thresholds.write_off_approval:"),
    ],
)
def test_a_bad_key_is_named_in_one_line(tmp_path: Path, toml: str, expected: str) -> None:
    assert refusal(tmp_path, toml, K="k").startswith(expected)


@pytest.mark.parametrize("value", ["25:00", "1:30", "01:60", "noon", ""])
def test_a_bad_nightly_time_is_refused(tmp_path: Path, value: str) -> None:
    message = refusal(tmp_path, f'[schedule]\nnightly_at = "{value}"\n')
    assert message.startswith("schedule.nightly_at:")


@pytest.mark.parametrize("value", ["30", "0m", "thirty minutes", "5w"])
def test_a_bad_retry_interval_is_refused(tmp_path: Path, value: str) -> None:
    assert refusal(tmp_path, f'[schedule]\nretry_every = "{value}"\n').startswith(
        "schedule.retry_every:"
    )


@pytest.mark.parametrize("url", ["ftp://host", "127.0.0.1:9101", "http://", "http://h:99999"])
def test_a_bad_channel_url_is_refused(tmp_path: Path, url: str) -> None:
    toml = DESIGN_EXAMPLE.replace('base_url = "http://127.0.0.1:9103"', f'base_url = "{url}"')
    assert refusal(tmp_path, toml).startswith("channels.bank.base_url:")


def test_a_channel_name_must_be_lowercase(tmp_path: Path) -> None:
    assert refusal(tmp_path, '[channels.VNPay]\nadapter = "file"\n').startswith("channels.VNPay")


def test_another_time_zone_is_refused(tmp_path: Path) -> None:
    assert refusal(tmp_path, 'timezone = "Asia/Bangkok"\n').startswith("timezone:")
    assert refusal(tmp_path, 'timezone = "Mars/Olympus"\n').startswith("timezone:")


def test_a_file_that_is_not_toml_is_refused(tmp_path: Path) -> None:
    assert refusal(tmp_path, "[channels.momo\n").startswith("RECON_CONFIG:")


def test_a_missing_config_file_is_refused() -> None:
    with pytest.raises(SettingsError, match="RECON_CONFIG: cannot read"):
        load_settings({"RECON_CONFIG": "/nonexistent/recon.toml"})


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("sqlite:///./var/recon.db", "sqlite+aiosqlite:///./var/recon.db"),
        ("sqlite:////abs/recon.db", "sqlite+aiosqlite:////abs/recon.db"),
        ("postgresql://u@h:5432/db", "postgresql+asyncpg://u@h:5432/db"),
        ("postgresql+asyncpg://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
    ],
)
def test_database_url_forms(given: str, expected: str) -> None:
    assert load_settings({"RECON_DATABASE_URL": given}).database_url == expected


@pytest.mark.parametrize("url", ["mysql://h/db", "recon.db", "sqlite://relative.db"])
def test_a_bad_database_url_is_refused(url: str) -> None:
    with pytest.raises(SettingsError, match=r"^RECON_DATABASE_URL"):
        load_settings({"RECON_DATABASE_URL": url})


def test_the_shipped_example_config_loads() -> None:
    example = Path(__file__).resolve().parents[2] / "docs" / "recon.example.toml"
    settings = load_settings({"RECON_CONFIG": str(example), **SECRETS})
    assert settings.channel_names() == ["bank", "momo", "portal", "vnpay"]


def test_a_config_that_is_a_fifo_or_a_folder_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "recon.toml"
    os.mkfifo(fifo)
    for path in (fifo, tmp_path):
        with pytest.raises(SettingsError, match="is not a file"):
            load_settings({"RECON_CONFIG": str(path)})
