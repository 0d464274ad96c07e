"""The handover brief as Markdown, for people (pure).

One function per section of the document, each giving its lines (a blank line after each
block); `SECTIONS` puts them in the order people read them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from contract_registry.handover.schemas import HandoverBrief, SlaBrief


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    lines = [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join("---" for _ in headers) + "|",
    ]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return lines


def _introduction(brief: HandoverBrief) -> list[str]:
    c = brief.contract
    return [
        f"# Handover brief — {c.reference}",
        "",
        f"{c.customer} (customer) and {c.supplier} (supplier). Status **{c.status}**; "
        f"version {c.version} in force since {c.effective_from}. Amounts in {c.currency}, "
        f"dates in {c.timezone}. As of {brief.as_of}"
        + (
            f", {c.days_to_end} days to the last day in force."
            if c.days_to_end is not None
            else "."
        ),
        "",
    ]


def _key_dates(brief: HandoverBrief) -> list[str]:
    return [
        "## Key dates",
        "",
        *_table(["date", "what"], [(k.date, k.what) for k in brief.key_dates]),
        "",
    ]


def _money(brief: HandoverBrief) -> list[str]:
    return [
        "## Money at a glance",
        "",
        brief.commercials.explanation,
        "",
        brief.credit_cap,
        "",
    ]


def _service_levels(brief: HandoverBrief) -> list[str]:
    cur = brief.contract.currency
    lines = [
        "## Service levels and credits",
        "",
        *_table(
            [
                "SLA",
                "kind",
                "service key",
                "expected",
                "minimum",
                "allocation",
                "credit if failed",
                "at baseline",
                "earn-back",
            ],
            [
                (
                    f"{s.code} {s.name}".strip(),
                    s.metric_kind,
                    s.service_key,
                    s.expected_level,
                    s.minimum_level,
                    f"{s.allocation_pct}%",
                    f"{s.credit_pct_of_monthly_charges}% of M",
                    f"{s.credit_at_baseline} {cur}",
                    f"{s.earn_back_periods} periods" if s.earn_back_periods else "none",
                )
                for s in brief.slas
            ],
        ),
        "",
    ]
    for s in brief.slas:
        lines += _service_level(s)
    return lines


def _service_level(s: SlaBrief) -> list[str]:
    lines = [f"### {s.code}", "", f"- Measured: {s.measured}", f"- Credit: {s.credit_formula}"]
    if s.service_hours:
        h = s.service_hours
        lines.append(
            f"- Service hours: {h.start}–{h.end} on weekdays {h.weekdays}"
            + (", holidays excluded" if h.exclude_holidays else "")
        )
    if s.maintenance_windows:
        lines.append("- Maintenance windows: " + "; ".join(s.maintenance_windows))
    if s.repeated_default_count:
        lines.append(
            f"- Repeated default: below expected in {s.repeated_default_count} of the last "
            "12 periods counts as a failure"
        )
    if s.clause:
        lines.append(f"- Clause: {s.clause}")
    for n in s.interpretation_notes:
        lines.append(f"- Agreed reading ({n.agreed_on}, {', '.join(n.agreed_by)}): {n.note}")
    lines.append("")
    return lines


def _price_book(brief: HandoverBrief) -> list[str]:
    return [
        "## Price book, ARC and RRC",
        "",
        *_table(
            [
                "unit",
                "price",
                "baseline",
                "base charge",
                "ARC rate",
                "RRC rate",
                "deadband",
                "no adjustment between",
                "volume band",
            ],
            [
                (
                    f"{u.code} {u.name}".strip(),
                    u.unit_price,
                    f"{u.baseline_volume} {u.unit}",
                    u.base_charge,
                    u.arc_rate,
                    u.rrc_rate,
                    f"{u.deadband_pct}% ({u.deadband_mode})",
                    f"{u.no_adjustment_between[0]}–{u.no_adjustment_between[1]}",
                    f"{u.volume_band[0]}–{u.volume_band[1]}" if u.volume_band else "",
                )
                for u in brief.price_book
            ],
        ),
        "",
        *[f"- {u.code}: {u.how_adjustments_work}" for u in brief.price_book],
        "",
    ]


def _obligations(brief: HandoverBrief) -> list[str]:
    return [
        "## Obligations",
        "",
        *_table(
            [
                "obligation",
                "clause",
                "owner",
                "recurrence",
                "due",
                "evidence",
                "severity",
                "next due",
            ],
            [
                (
                    f"{o.code} {o.title}",
                    o.clause,
                    o.owner_role,
                    o.rrule or "one-off",
                    f"+{o.due_offset_business_days} business days",
                    "required" if o.evidence_required else "",
                    o.severity,
                    ", ".join(str(d.due_date) for d in o.next_due),
                )
                for o in brief.obligations
            ],
        ),
        "",
        *[f"- When {e.trigger}: {e.obligation}, due {e.due}." for e in brief.event_obligations],
        "",
    ]


def _governance(brief: HandoverBrief) -> list[str]:
    if not brief.governance:
        return []
    g = brief.governance
    return [
        "## Governance",
        "",
        f"Reviews `{g.review_rrule}`, owned by {g.owner_role}; next: "
        + ", ".join(str(r.due_date) for r in g.next_reviews),
        "",
    ]


def _escalation(brief: HandoverBrief) -> list[str]:
    return [
        f"Escalation of overdue obligations every {brief.escalation.delay_business_days} "
        f"business days to: {' → '.join(brief.escalation.levels)}.",
        "",
    ]


def _rebates(brief: HandoverBrief) -> list[str]:
    if not brief.rebate_tiers:
        return []
    return [
        "## Rebates",
        "",
        *_table(
            ["from", "to", "rebate", "applies"],
            [
                (
                    t.from_amount,
                    t.to_amount if t.to_amount is not None else "and above",
                    f"{t.rebate_pct}%",
                    "retroactive (whole spend)" if t.retroactive else "marginal (spend in tier)",
                )
                for t in brief.rebate_tiers
            ],
        ),
        "",
    ]


def _clauses(brief: HandoverBrief) -> list[str]:
    if not brief.clauses:
        return []
    lines = ["## Clauses and agreed interpretations", ""]
    for cl in brief.clauses:
        lines.append(f"### {cl.ref} {cl.title}".rstrip())
        lines.append("")
        if cl.text:
            lines += [f"> {cl.text}", ""]
        for n in cl.interpretation_notes:
            lines.append(f"- Agreed on {n.agreed_on} by {', '.join(n.agreed_by)}: {n.note}")
        lines.append("")
    return lines


def _holidays(brief: HandoverBrief) -> list[str]:
    if not brief.holidays:
        return []
    return ["Holidays: " + ", ".join(str(d) for d in brief.holidays), ""]


def _versions(brief: HandoverBrief) -> list[str]:
    return [
        "## Versions",
        "",
        *_table(
            ["version", "state", "effective from", "note"],
            [(v.version, v.state, v.effective_from, v.note) for v in brief.versions],
        ),
        "",
    ]


def _recent_health(brief: HandoverBrief) -> list[str]:
    if not brief.recent_health:
        return []
    return [
        "## Recent health",
        "",
        *_table(
            ["period", "score", "SLAs failed", "below expected", "credits", "leakage"],
            [
                (
                    h.period_label,
                    h.score if h.score is not None else "no data",
                    h.slas_failed,
                    h.slas_below_expected,
                    h.credits_total,
                    h.leakage_total,
                )
                for h in brief.recent_health
            ],
        ),
        "",
    ]


SECTIONS: tuple[Callable[[HandoverBrief], list[str]], ...] = (
    _introduction,
    _key_dates,
    _money,
    _service_levels,
    _price_book,
    _obligations,
    _governance,
    _escalation,
    _rebates,
    _clauses,
    _holidays,
    _versions,
    _recent_health,
)


def render_markdown(brief: HandoverBrief) -> str:
    return "\n".join(line for section in SECTIONS for line in section(brief))
