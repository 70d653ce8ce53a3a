"""The documentation a user reads: the README stays short, and every relative link resolves."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", ROOT / "benchmarks" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def relative_links(text: str) -> list[str]:
    """The targets of Markdown links and images that point into the repository."""
    return [target for target in LINK.findall(text) if not re.match(r"[a-z]+:|#", target)]


def test_every_relative_link_and_image_resolves():
    broken = []
    for page in PAGES:
        for target in relative_links(page.read_text()):
            if not (page.parent / target.split("#")[0]).exists():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert broken == []


def test_the_link_check_sees_links_and_images_but_not_addresses():
    text = "see [the guide](docs/a.md#part), ![curves](b.png), [site](https://x.org) and [top](#top)"
    assert relative_links(text) == ["docs/a.md#part", "b.png"]


def test_the_readme_is_a_page_a_user_reads():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= 250
    assert sum(line.startswith("pip install") for line in lines if "&&" in line) == 2  # the two quickstart commands
