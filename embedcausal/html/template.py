"""The report's page: one HTML template, Jinja2 with autoescaping on, no script, no network.

The stylesheet is inline; every string from a model file, a data set or a result is escaped
(:func:`render_page`, ``undefined`` strict so a missing value fails loudly).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["TEMPLATE", "render_page"]

TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="embedcausal {{ version }}">
<title>{{ title }}</title>
<style>
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d2125;
       margin: 0; background: #f6f7f9; }
header { background: #1b4f72; color: white; padding: 1.2rem 2rem; }
header h1 { margin: 0 0 .3rem; font-size: 1.6rem; }
header p { margin: 0; opacity: .85; }
nav { background: white; border-bottom: 1px solid #dde1e6; padding: .6rem 2rem; }
nav a { margin-right: 1.2rem; color: #1b4f72; text-decoration: none; }
main { max-width: 1200px; margin: 0 auto; padding: 1rem 2rem 3rem; }
section.top { background: white; border: 1px solid #dde1e6; border-radius: 6px;
              padding: .5rem 1.5rem 1.2rem; margin: 1.2rem 0; }
h2 { color: #1b4f72; border-bottom: 2px solid #e3e8ee; padding-bottom: .2rem; }
h3 { color: #243b53; margin-top: 1.6rem; }
h4 { color: #334e68; }
.warn { background: #fff4e5; border-left: 5px solid #d9822b; padding: .5rem .9rem;
        margin: .5rem 0; }
.good { background: #e9f7ef; border-left: 5px solid #1e8449; padding: .5rem .9rem;
        margin: .5rem 0; }
table { border-collapse: collapse; margin: .6rem 0 1rem; font-size: .9rem; }
caption { text-align: left; font-weight: 600; padding: .2rem 0; }
th, td { border: 1px solid #d9dee4; padding: .25rem .6rem; text-align: right; }
th { background: #eef2f6; }
td:first-child, th:first-child { text-align: left; }
figure { margin: 1rem 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #e3e8ee; background: white; }
figcaption { font-size: .85rem; color: #52606d; }
pre { background: #f0f3f6; padding: .6rem; overflow-x: auto; font-size: .8rem; }
footer { color: #7b8794; font-size: .8rem; text-align: center; padding: 1rem; }
</style>
</head>
<body>
<header><h1>{{ title }}</h1><p>{{ subtitle }}</p></header>
<nav>{% for s in sections %}<a href="#{{ s.anchor }}">{{ s.title }}</a>{% endfor %}</nav>
<main>
{% macro body(s, level) %}
  {% for p in s.paragraphs %}<p>{{ p }}</p>{% endfor %}
  {% for g in s.good %}<div class="good">{{ g }}</div>{% endfor %}
  {% for w in s.warnings %}<div class="warn">⚠ {{ w }}</div>{% endfor %}
  {% for t in s.tables %}
  <table><caption>{{ t.caption }}</caption>
    <thead><tr>{% for c in t.columns %}<th>{{ c }}</th>{% endfor %}</tr></thead>
    <tbody>{% for r in t.rows %}<tr>{% for v in r %}<td>{{ v }}</td>{% endfor %}</tr>{% endfor %}
    </tbody></table>
  {% endfor %}
  {% if s.items_intro %}<p>{{ s.items_intro }}</p>{% endif %}
  {% if s.items %}<ul>{% for i in s.items %}<li>{{ i }}</li>{% endfor %}</ul>{% endif %}
  {% for f in s.figures %}
  <figure><img src="{{ f.src }}" alt="{{ f.alt }}"><figcaption>{{ f.caption }}</figcaption></figure>
  {% endfor %}
  {% for p in s.pre %}<pre>{{ p }}</pre>{% endfor %}
  {% for summary, text in s.details %}
  <details><summary>{{ summary }}</summary><pre>{{ text }}</pre></details>
  {% endfor %}
  {% for sub in s.subsections %}
  <h{{ level }} id="{{ sub.anchor }}">{{ sub.title }}</h{{ level }}>
  {{ body(sub, level + 1) }}
  {% endfor %}
{% endmacro %}
{% for s in sections %}
<section class="top" id="{{ s.anchor }}">
<h2>{{ s.title }}</h2>
{{ body(s, 3) }}
</section>
{% endfor %}
</main>
<footer>Generated {{ generated }} by embedcausal {{ version }}. Self-contained: no scripts,
no network.</footer>
</body>
</html>
"""


def render_page(
    *, title: str, subtitle: str, sections: Sequence[Any], version: str, generated: str
) -> str:
    """The page's HTML text: ``sections`` (:class:`~embedcausal.html.section.Section`) in order."""
    import jinja2

    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return env.from_string(TEMPLATE).render(
        title=title, subtitle=subtitle, sections=sections, version=version, generated=generated
    )
