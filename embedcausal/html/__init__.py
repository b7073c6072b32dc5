"""One self-contained HTML report of runs and sensitivity sweeps (``embedcausal report``).

:func:`write_report` reads run directories (``embedcausal fit --out``) and sweep directories
(``embedcausal sensitivity --out``) and writes one HTML file that needs nothing else: figures
are inlined as base64 PNG, the stylesheet is inline, and there is no script and no network
reference. It shows, per run, the DAG, what is identified and under which assumptions (in
words), the sampler diagnostics with clear warnings, the effects table and figures (forest,
effect curve, posterior predictive checks); with several runs, the mechanisms side by side and
their PSIS-LOO comparison; per sweep, whatever parts of the sensitivity analyses it holds
(latent-confounder grid, OVB, priors, refuters), tolerating missing or damaged parts.

The page is rendered with Jinja2 with autoescaping on: every string from a model file, a
data set or a result is escaped. :func:`build_report` returns the HTML text, so scripts (such
as the one behind ``docs/analysis.md``) can reuse the sections.

``inputs``
    :func:`classify` (run or sweep directory), :func:`unique_names`, :class:`ReportError`.
``section``
    :class:`~embedcausal.html.section.Section` (one part of the page) and cell formatting,
    figures inlined as base64 PNG.
``run_sections`` / ``sweep_sections``
    The sections of a run (DAG, identification, diagnostics, effects), of runs compared, and
    of a sensitivity sweep.
``template``
    The page: one Jinja2 template, inline stylesheet.
``page``
    :func:`build_report` and :func:`write_report`.
"""

from embedcausal.html.inputs import ReportError, classify, unique_names
from embedcausal.html.page import build_report, write_report

__all__ = ["ReportError", "build_report", "classify", "unique_names", "write_report"]
