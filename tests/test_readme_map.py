"""The README's "Where things are" map names every folder of recon/ and nothing that is gone."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _map() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return text.split("## Where things are", 1)[1].split("```", 2)[1]


def test_every_folder_the_map_names_exists() -> None:
    named = re.findall(r"^([\w/]+/)\s", _map(), flags=re.MULTILINE)
    assert "recon/" in named
    for folder in named:
        assert (ROOT / folder).is_dir(), folder


def test_every_domain_folder_of_recon_is_on_the_map() -> None:
    named = set(re.findall(r"^([\w/]+/)\s", _map(), flags=re.MULTILINE))
    for folder in (ROOT / "recon").iterdir():
        if folder.is_dir() and (folder / "__init__.py").exists():
            assert f"recon/{folder.name}/" in named, folder.name
