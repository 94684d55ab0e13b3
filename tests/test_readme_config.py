"""The README's "Configuration" tables list every environment variable and TOML key recon reads,
and nothing it does not (issue 15): both ways, so that nothing is undocumented or stale.

What the code reads is collected from the code itself:

- TOML keys: the settings Structs of recon/settings.py walked field by field (`schedule.…`,
  `thresholds.…`, `api.…`), and each channel adapter's Struct of the `ChannelConfig` union
  (`channels.<name>.…`, with the adapters taking each key); the defaults too;
- environment variables: every `RECON_…` string literal in recon/ and adapters/ (docstrings
  aside), `RECON_LOG_FORMAT`, the defaults of `*_env` keys, and the secret variables the
  shipped configs (docs/*.toml, deploy/*.toml) name.
"""

from __future__ import annotations

import ast
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
from msgspec import inspect as mi

from recon.settings import ChannelConfig, FileConfig

ROOT = Path(__file__).resolve().parents[1]
VARIABLE = re.compile(r"\bRECON_[A-Z][A-Z0-9_]*\b")
CHANNEL_PREFIX = "channels.<name>."
REQUIRED = object()  # a key without a default
ALWAYS_READ = {"RECON_LOG_FORMAT"}  # recon/system/logs.py


# --- what the code reads -------------------------------------------------------------------


def _default(field: mi.Field) -> Any:
    if field.default is not msgspec.NODEFAULT:
        return field.default
    if field.default_factory is not msgspec.NODEFAULT:
        return field.default_factory()
    return REQUIRED


def _struct_keys(struct: mi.StructType, prefix: str = "") -> Iterator[tuple[str, Any]]:
    for field in struct.fields:
        if isinstance(field.type, mi.StructType):
            yield from _struct_keys(field.type, f"{prefix}{field.encode_name}.")
        else:
            yield f"{prefix}{field.encode_name}", _default(field)


def file_keys() -> dict[str, Any]:
    """The keys outside `[channels.*]`, with their defaults."""
    info = mi.type_info(FileConfig)
    assert isinstance(info, mi.StructType)
    assert "channels" in {f.name for f in info.fields}  # its tables: `channel_keys`
    return {key: default for key, default in _struct_keys(info) if key != "channels"}


def channel_adapters() -> list[mi.StructType]:
    info = mi.type_info(ChannelConfig)
    assert isinstance(info, mi.UnionType)
    adapters = [t for t in info.types if isinstance(t, mi.StructType)]
    assert len(adapters) == len(info.types)
    return adapters


def channel_keys() -> dict[str, tuple[set[str], Any]]:
    """`channels.<name>.KEY` -> (the adapters taking it, its default)."""
    keys: dict[str, tuple[set[str], Any]] = {}
    for adapter in channel_adapters():
        assert adapter.tag_field is not None
        tag = str(adapter.tag)
        fields = [(adapter.tag_field, REQUIRED)]
        fields += [(f.encode_name, _default(f)) for f in adapter.fields]
        for name, default in fields:
            adapters, known = keys.setdefault(CHANNEL_PREFIX + name, (set(), default))
            assert known == default or known is REQUIRED is default, name
            adapters.add(tag)
    return keys


def _literals(path: Path) -> Iterator[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    for node in ast.walk(tree):
        if not isinstance(node, ast.Constant) or id(node) in docstrings:
            continue
        if isinstance(node.value, str):
            yield node.value


def variables_in_code() -> set[str]:
    found: set[str] = set()
    for folder in ("recon", "adapters"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for literal in _literals(path):
                found |= set(VARIABLE.findall(literal))
    return found


def env_defaults() -> set[str]:
    """The variables a `*_env` key names when the file does not say."""
    names = set()
    for adapter in channel_adapters():
        for field in adapter.fields:
            if field.name.endswith("_env") and isinstance(field.default, str):
                names.add(field.default)
    return names


def shipped_secret_variables() -> set[str]:
    names = set()
    for path in [*(ROOT / "docs").glob("*.toml"), *(ROOT / "deploy").glob("*.toml")]:
        config = tomllib.loads(path.read_text(encoding="utf-8"))
        for table in config.get("channels", {}).values():
            names |= {v for k, v in table.items() if k.endswith("_env")}
    return names


def variables_read() -> set[str]:
    return variables_in_code() | ALWAYS_READ | env_defaults() | shipped_secret_variables()


# --- what the README says ------------------------------------------------------------------


def readme_tables() -> dict[str, list[list[str]]]:
    """The tables of the README's "Configuration" section, by their first header cell."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    tables: dict[str, list[list[str]]] = {}
    rows: list[list[str]] = []
    for line in [*section.splitlines(), ""]:
        if line.startswith("|"):
            rows.append([cell.strip() for cell in line.strip().strip("|").split(" | ")])
            continue
        if rows:
            header, rule, *body = rows
            assert set(rule[0]) <= {"-", ":"}, rows[:2]
            assert header[0] not in tables, header[0]
            tables[header[0]] = body
            rows = []
    return tables


def _names(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


def _value(cell: str) -> Any:
    if cell == "required":
        return REQUIRED
    if cell == "none":
        return None
    (literal,) = _names(cell)
    return tomllib.loads(f"value = {literal}")["value"]


def readme_variables() -> list[str]:
    names = []
    for row in readme_tables()["variable"]:
        (name,) = _names(row[0])
        names.append(name)
    return names


def readme_keys() -> dict[str, Any]:
    keys = {}
    for row in readme_tables()["key"]:
        (key,) = _names(row[0])
        keys[key] = _value(row[1])
    return keys


def readme_channel_keys() -> dict[str, tuple[set[str], Any]]:
    keys = {}
    for row in readme_tables()["channel key"]:
        (key,) = _names(row[0])
        keys[key] = (set(_names(row[1])), _value(row[2]))
    return keys


# --- the comparisons -----------------------------------------------------------------------


def test_the_scan_finds_the_variables_known_to_be_read() -> None:
    assert {"RECON_DATABASE_URL", "RECON_CONFIG"} <= variables_in_code()
    assert "RECON_TEST_POSTGRES_URL" not in variables_read()  # the tests', not recon's


def test_every_environment_variable_recon_reads_is_in_the_readme_and_no_other() -> None:
    listed = readme_variables()
    assert len(listed) == len(set(listed)), listed
    assert sorted(variables_read() - set(listed)) == [], "undocumented"
    assert sorted(set(listed) - variables_read()) == [], "documented but never read"


def test_every_toml_key_is_in_the_readme_with_its_default_and_no_other() -> None:
    expected, listed = file_keys(), readme_keys()
    assert sorted(expected.keys() - listed.keys()) == [], "undocumented"
    assert sorted(listed.keys() - expected.keys()) == [], "documented but never read"
    assert {k: v for k, v in listed.items() if v != expected[k]} == {}, "wrong default"


def test_every_channel_key_is_in_the_readme_with_its_adapters_and_no_other() -> None:
    expected, listed = channel_keys(), readme_channel_keys()
    assert sorted(expected.keys() - listed.keys()) == [], "undocumented"
    assert sorted(listed.keys() - expected.keys()) == [], "documented but never read"
    wrong = {k: (v, expected[k]) for k, v in listed.items() if v != expected[k]}
    assert wrong == {}, "wrong adapters or default"


def test_the_shipped_configs_use_only_keys_the_readme_lists() -> None:
    keys, channel = readme_keys(), readme_channel_keys()
    for path in [*(ROOT / "docs").glob("*.toml"), *(ROOT / "deploy").glob("*.toml")]:
        config = tomllib.loads(path.read_text(encoding="utf-8"))
        for name, table in config.pop("channels", {}).items():
            for key in table:
                adapters, _ = channel[CHANNEL_PREFIX + key]
                assert table["adapter"] in adapters, (path.name, name, key)
        used = set(_dotted(config))
        assert used <= keys.keys(), (path.name, sorted(used - keys.keys()))


def _dotted(table: dict[str, Any], prefix: str = "") -> Iterator[str]:
    for key, value in table.items():
        if isinstance(value, dict):
            yield from _dotted(value, f"{prefix}{key}.")
        else:
            yield prefix + key
