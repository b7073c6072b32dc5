"""The documentation: the site builds with warnings as errors, every Python example runs,
every exported name and every CLI option is documented."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import embedcausal as ec

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
PAGES = [REPO / "README.md", *sorted(DOCS.rglob("*.md"))]
FENCE = re.compile(r"^```python[^\n]*\n(.*?)^```\s*$", re.S | re.M)


def python_blocks(page: Path) -> list[str]:
    """The page's ```python blocks, in order, without those marked ``# not run``."""
    blocks = FENCE.findall(page.read_text(encoding="utf-8"))
    return [b for b in blocks if not b.lstrip().startswith("# not run")]


def test_markers_are_sparing():
    marked = sum(
        b.lstrip().startswith("# not run")
        for p in PAGES
        for b in FENCE.findall(p.read_text(encoding="utf-8"))
    )
    run = sum(len(python_blocks(p)) for p in PAGES)
    assert run >= 10 and marked <= 6, (run, marked)


@pytest.mark.parametrize(
    "page",
    [pytest.param(p, id=str(p.relative_to(REPO))) for p in PAGES if python_blocks(p)],
)
def test_python_examples_run(page, monkeypatch):
    """Each page's blocks run in order in one fresh namespace, from the repository root."""
    import matplotlib.pyplot as plt

    monkeypatch.chdir(REPO)
    namespace = {"__name__": "docs_example"}  # `if __name__ == "__main__":` parts are skipped
    try:
        for i, block in enumerate(python_blocks(page), 1):
            code = compile(block, f"{page.relative_to(REPO)}[python block {i}]", "exec")
            with warnings.catch_warnings():
                # examples show what users see: library warnings (Pareto k with few draws)
                # are part of the story, not test failures
                warnings.simplefilter("ignore")
                exec(code, namespace)
    finally:
        plt.close("all")


def test_api_page_documents_every_export():
    api = (DOCS / "api.md").read_text(encoding="utf-8")
    documented = re.findall(r"^::: ([\w.]+)$", api, re.M)
    missing = [
        name
        for name, module in ec._EXPORTS.items()
        if not any(d.startswith(module + ".") and d.endswith("." + name) for d in documented)
    ]
    assert missing == []


def test_every_cli_option_is_on_its_page():
    from embedcausal.cli import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    nav = (REPO / "mkdocs.yml").read_text(encoding="utf-8")
    for name, parser in sub.choices.items():
        page = DOCS / "cli" / f"{name}.md"
        assert page.is_file(), f"no page for `embedcausal {name}`"
        assert f"cli/{name}.md" in nav
        text = page.read_text(encoding="utf-8")
        for action in parser._actions:
            for option in action.option_strings:
                if option not in ("-h", "--help"):
                    assert f"`{option}`" in text, f"{page.name}: {option} undocumented"


def test_every_page_is_in_the_nav():
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    # mkdocs.yml may hold !!python/name tags (none now); read it as plain data
    config = yaml.load((REPO / "mkdocs.yml").read_text(encoding="utf-8"), Loader=Loader)

    def files(nav) -> list[str]:
        out = []
        for item in nav:
            value = next(iter(item.values())) if isinstance(item, dict) else item
            out += files(value) if isinstance(value, list) else [value]
        return out

    in_nav = set(files(config["nav"]))
    pages = {str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md")}
    assert pages - in_nav == set(), "pages missing from the nav"
    assert not in_nav - pages, f"nav entries without a page: {sorted(in_nav - pages)}"


def test_site_builds_strict(tmp_path):
    """`mkdocs build --strict`: any warning (a broken link, an unknown API object) fails."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    res = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    api = (tmp_path / "api" / "index.html").read_text(encoding="utf-8")
    for name in ("embedcausal.spec.load_spec", "embedcausal.plots.effects.plot_effects"):
        assert f'id="{name}"' in api
    assert (tmp_path / "cli" / "report" / "index.html").is_file()


def test_no_merge_conflict_markers():
    # a conflict block was once committed into the README's command list
    marker = re.compile(r"^(<{7}|>{7}) |^={7}$", re.M)
    roots = ["README.md", "ARCHITECTURE.md", "CHANGELOG.md", "mkdocs.yml", "pyproject.toml"]
    files = [REPO / r for r in roots]
    for sub in ("docs", "embedcausal", "tests", "bench", "models", "scripts", "data"):
        files += [
            p
            for p in (REPO / sub).rglob("*")
            if p.suffix in {".md", ".py", ".toml", ".yml", ".txt"} and p.is_file()
        ]
    bad = [str(p.relative_to(REPO)) for p in files if marker.search(p.read_text(errors="replace"))]
    assert not bad, f"merge-conflict markers in: {bad}"


def test_bench_and_script_paths_exist():
    # a page once sent users to bench/sweep_vs_fits.py after the script was removed
    mention = re.compile(r"\b(?:bench|scripts)/[A-Za-z0-9_./-]+\.(?:py|sh|md)\b")
    sources = [*PAGES, REPO / "ARCHITECTURE.md"]
    for sub in ("embedcausal", "bench", "scripts"):
        sources += sorted((REPO / sub).rglob("*.py"))
    missing = {
        f"{src.relative_to(REPO)}: {m}"
        for src in sources
        for m in mention.findall(src.read_text(encoding="utf-8"))
        if not (REPO / m).is_file()
    }
    assert not missing, f"paths that do not exist: {sorted(missing)}"
