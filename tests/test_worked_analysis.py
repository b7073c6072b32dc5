"""The worked analysis (docs/analysis.md): its script's template is fully filled and every
figure the page shows exists. Nothing is sampled here; the page is built by
``python scripts/worked_analysis.py``."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "worked_analysis.py"
PAGE = REPO / "docs" / "analysis.md"
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)")


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("worked_analysis", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def page() -> str:
    return PAGE.read_text(encoding="utf-8")


def test_page_has_no_unfilled_field(script, page):
    fields = script.fields_of(script.TEMPLATE) | script.fields_of(script.SENSITIVITY_TEMPLATE)
    assert len(fields) > 40  # the templates are where every number comes from
    left = sorted(f for f in fields if "{" + f + "}" in page)
    assert left == []
    assert re.findall(r"\{[a-z_]+\}", page) == []


def test_render_refuses_missing_and_unused_fields(script):
    values = dict.fromkeys(script.fields_of(script.TEMPLATE), "x")
    assert "{" not in script.render(values).split("-->", 1)[1]
    missing = dict(values)
    missing.pop("n_rows")
    with pytest.raises(KeyError, match="n_rows"):
        script.render(missing)
    with pytest.raises(KeyError, match="surplus"):
        script.render({**values, "surplus": "1"})


def test_every_figure_of_the_page_exists(page):
    shown = IMAGE.findall(page)
    assert len(shown) >= 10  # DAGs, diagnostics, ppc, effects, curve, LOO, sensitivity
    for rel in shown:
        path = PAGE.parent / rel
        assert path.is_file() and path.stat().st_size > 1000, rel
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", rel


def test_page_starts_with_its_command_and_is_in_the_nav(script, page):
    assert script.COMMAND in page.split("##", 1)[0]
    assert "analysis.md" in (REPO / "mkdocs.yml").read_text(encoding="utf-8")
    assert script.COMMAND in (REPO / "README.md").read_text(encoding="utf-8")
    assert "```python" not in page  # tests/test_docs.py would run it
