"""The accountant's web pages: server-rendered Jinja templates in Vietnamese, no build step."""

from __future__ import annotations

from pathlib import Path

TEMPLATES_DIR = Path(__file__).parent / "templates"
