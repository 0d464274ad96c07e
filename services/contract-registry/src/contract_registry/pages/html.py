"""The contract page as one HTML document (pure): no script, no external asset; its
stylesheet is inline and allowed by hash in the Content-Security-Policy (`STYLE_HASH`), and
the charts are the same SVG the chart endpoints serve, inlined."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from urllib.parse import urlencode

from contract_registry.health.scoring import PeriodHealth
from contract_registry.pages import charts
from contract_registry.pages.service import ContractView, PeriodWindow
from contract_registry.pages.svg import Frame, esc, no_data

STYLE = """
body { font-family: system-ui, sans-serif; margin: 0; color: #222; background: #f4f5f7; }
header { background: #1f2d3d; color: #fff; padding: 16px 24px; }
header h1 { margin: 0 0 4px; font-size: 22px; }
header p { margin: 2px 0; color: #cfd8e3; }
main { padding: 16px 24px; max-width: 1520px; }
section { background: #fff; border: 1px solid #dde1e6; border-radius: 6px;
  padding: 12px 16px; margin: 0 0 16px; }
section h2 { margin: 0 0 8px; font-size: 18px; }
.charts { display: flex; flex-wrap: wrap; gap: 12px; }
.charts svg { max-width: 100%; height: auto; }
.score { font-size: 40px; font-weight: bold; margin: 4px 0; }
table { border-collapse: collapse; margin-top: 8px; font-size: 13px; }
th, td { border-bottom: 1px solid #e4e7eb; padding: 4px 10px; text-align: left;
  vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
footer { padding: 0 24px 24px; color: #555; font-size: 13px; }
"""
STYLE_HASH = "sha256-" + base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
# No script, no frame, nothing from anywhere else; the inline stylesheet by its hash.
CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; style-src '{STYLE_HASH}'; img-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
CHART_FILES = {name: f"charts/{name}.svg" for name in charts.CHARTS}


def window_query(window: PeriodWindow) -> str:
    params = {"period_from": window.period_from, "period_to": window.period_to}
    kept = {k: v for k, v in params.items() if v is not None}
    if window.last != PeriodWindow.last:
        kept["last"] = str(window.last)
    return f"?{urlencode(kept)}" if kept else ""


def _components_table(health: PeriodHealth) -> str:
    rows = []
    for c in health.components:
        inputs = ", ".join(f"{k} {v}" for k, v in c.inputs.items() if v != "")
        score = "no data" if c.score is None else str(c.score)
        rows.append(
            f"<tr><td>{esc(c.name)}</td><td class=num>{esc(c.weight)}</td>"
            f"<td class=num>{esc(score)}</td><td>{esc(c.formula)}</td><td>{esc(inputs)}</td></tr>"
        )
    return (
        f"<table><caption>Components of {esc(health.period_label)}</caption>"
        "<thead><tr><th>component</th><th>weight</th><th>score</th><th>formula</th>"
        f"<th>inputs</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _score_section(view: ContractView) -> str:
    scored = [p for p in view.periods if p.score is not None]
    if scored:
        latest = scored[-1]
        headline = (
            f'<p class="score" id="latest-score">{esc(latest.score)}</p>'
            f"<p>Score of {esc(latest.period_label)} (0 to 100), the weighted mean of the "
            "components with data.</p>"
        )
        table = _components_table(latest)
    else:
        headline = '<p class="score" id="latest-score">–</p><p>No period has a score yet.</p>'
        table = ""
    return (
        '<section id="health"><h2>Health score and its components</h2>'
        f'{headline}<div class="charts">{charts.health_chart(view.periods)}</div>{table}'
        "</section>"
    )


def _attainment_section(view: ContractView) -> str:
    if view.slas:
        panels = [
            charts.attainment_chart(code, kind, points)
            for code, (kind, points) in sorted(view.slas.items())
        ]
    else:
        panels = [
            no_data(
                Frame("attainment", "SLA attainment", "No SLA period has been closed yet."),
            )
        ]
    return (
        '<section id="attainment"><h2>SLA attainment against expected and minimum levels</h2>'
        f'<div class="charts">{"".join(panels)}</div></section>'
    )


def _links(view: ContractView, query: str) -> str:
    items: Sequence[tuple[str, str]] = [
        *((f"{path}{query}", f"{name}.svg") for name, path in CHART_FILES.items()),
        (f"health{query}", "the same figures as JSON (GET …/health)"),
    ]
    links = " · ".join(f'<a href="{esc(href)}">{esc(text)}</a>' for href, text in items)
    return (
        f"<footer><p>Charts for embedding (image/svg+xml, same API key): {links}</p>"
        f"<p>Generated {esc(view.generated_at.isoformat(timespec='seconds'))} from the events "
        "contract-registry received from sla-monitor, billing-reconciler and "
        "obligation-tracker.</p></footer>"
    )


def render_page(view: ContractView, window: PeriodWindow) -> str:
    c = view.contract
    shown = [p.period_label for p in view.periods]
    span = f"{shown[0]} to {shown[-1]}" if shown else "no period with data yet"
    title = f"{c.reference} · {c.customer}: contract health"
    return "\n".join(
        [
            "<!doctype html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>",
            f"<header><h1>{esc(title)}</h1>",
            f"<p>{esc(c.customer)} and {esc(c.supplier)} · tenant {esc(c.tenant_id)} · "
            f"{esc(c.status)} · {esc(c.currency)} · {esc(c.timezone)}</p>",
            f"<p>Periods shown: {esc(span)}</p></header><main>",
            _score_section(view),
            _attainment_section(view),
            '<section id="credits-leakage"><h2>Service credits and leakage per period</h2>'
            f'<div class="charts">{charts.credits_leakage_chart(view.periods, c.currency)}'
            "</div></section>",
            '<section id="obligations"><h2>Obligations on time per period</h2>'
            f'<div class="charts">{charts.obligations_chart(view.periods)}</div></section>',
            "</main>",
            _links(view, window_query(window)),
            "</body></html>",
        ]
    )
