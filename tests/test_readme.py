"""The README's first tour, as a person copies it: JSON shows its French accents as they are, and
downloads land outside the repository (or where git ignores them)."""

import re

from app.core.config import PROJECT_ROOT


def first_tour() -> list[str]:
    """The commands of the tour's shell block, continuation lines joined."""
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## A first tour\n", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    return [command.strip() for command in block.replace("\\\n", " ").splitlines() if command.strip()]


def test_json_keeps_its_accents():
    pretty_printed = [command for command in first_tour() if "json.tool" in command]
    assert pretty_printed
    assert all("--no-ensure-ascii" in command for command in pretty_printed)


def test_downloads_land_outside_the_repository():
    targets = [target for command in first_tour() for target in re.findall(r"\s-o\s+(\S+)", command)]
    assert "/tmp/bilan.xlsx" in targets
    for target in targets:
        assert target.startswith(("/tmp/", "var/")), target
    ignored = (PROJECT_ROOT / ".gitignore").read_text().splitlines()
    assert "var/" in ignored
