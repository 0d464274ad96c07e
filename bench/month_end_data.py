"""The month-end benchmark's data and what it must come to, computed here with plain
arithmetic (no service code): March 2026 in America/New_York for N contracts of five SLAs.

Every contract is DESIGN's worked example (price book, credit terms, AVAIL-CORE with its
maintenance window) with four more SLAs, so each contract has all the metric kinds:

| SLA | kind | service key | levels (expected / minimum) | allocation |
|---|---|---|---|---|
| AVAIL-CORE | availability (window 14 March 06:00–07:00 UTC) | core-… | 99.9 / 99.5 | 30% |
| AVAIL-DR | availability | dr-… | 99.5 / 99.0 | 20% |
| P1-RES | incident resolution, P1 within 240 min | core-… | 95 / 90 | 20% |
| P2-RSP | incident response, P2 within 30 min | core-… | 90 / 80 | 15% |
| LAT-P95 | measurement, p95 of ms, lower is better | core-… | 400 / 550 | 15% |

The allocations total 100%, so the credits of a month never exceed its at-risk amount and
no cap applies: a failed SLA's credit is ARA × allocation, rounded half-even to the cent.
Each SLA is drawn to be met, below expected or failed, and its telemetry is made to land
there; the expected figures are then computed from the telemetry itself.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

PERIOD = "2026-03"
TZ = ZoneInfo("America/New_York")
PERIOD_START = datetime(2026, 3, 1, tzinfo=TZ).astimezone(UTC)
PERIOD_END = datetime(2026, 4, 1, tzinfo=TZ).astimezone(UTC)
PERIOD_MINUTES = int((PERIOD_END - PERIOD_START).total_seconds()) // 60  # 44,580
WINDOW = (datetime(2026, 3, 14, 6, tzinfo=UTC), datetime(2026, 3, 14, 7, tzinfo=UTC))
DESIGN_OUTAGE = (datetime(2026, 3, 14, 3, tzinfo=UTC), datetime(2026, 3, 14, 8, tzinfo=UTC))
AT_RISK_PCT = Decimal(12)
BASE_CHARGES = Decimal("90000.00")  # 200 × 150.00 + 5,000 × 12.00
ARC = Decimal("1960.00")  # SRV-WIN 214: (214 − 200) × 140.00; TCK-L1 4,700 inside its deadband
CENT = Decimal("0.01")
OUTCOMES = ("met", "below_expected", "failed")


@dataclass(frozen=True)
class SlaSpec:
    code: str
    kind: str
    key_prefix: str
    expected: Decimal
    minimum: Decimal
    allocation: Decimal
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def lower_is_better(self) -> bool:
        return self.kind == "measurement"


SLAS = (
    SlaSpec("AVAIL-CORE", "availability", "core", Decimal("99.9"), Decimal("99.5"), Decimal(30)),
    SlaSpec("AVAIL-DR", "availability", "dr", Decimal("99.5"), Decimal("99.0"), Decimal(20)),
    SlaSpec(
        "P1-RES",
        "incident_resolution",
        "core",
        Decimal(95),
        Decimal(90),
        Decimal(20),
        {"priority": "P1", "target_minutes": 240},
    ),
    SlaSpec(
        "P2-RSP",
        "incident_response",
        "core",
        Decimal(90),
        Decimal(80),
        Decimal(15),
        {"priority": "P2", "target_minutes": 30},
    ),
    SlaSpec(
        "LAT-P95",
        "measurement",
        "core",
        Decimal(400),
        Decimal(550),
        Decimal(15),
        {"direction": "lower_is_better", "statistic": "percentile", "percentile": "95"},
    ),
)


@dataclass
class SlaExpected:
    code: str
    attainment: Decimal  # rounded to 4 places, half-even (the value itself for LAT-P95)
    outcome: str


@dataclass
class ContractPlan:
    index: int
    suffix: str
    with_consumption: bool
    items: list[dict[str, Any]] = field(default_factory=list)
    expected: dict[str, SlaExpected] = field(default_factory=dict)

    def key(self, prefix: str) -> str:
        return f"{prefix}-{self.suffix}"

    @property
    def monthly_charges(self) -> Decimal:
        return BASE_CHARGES + (ARC if self.with_consumption else Decimal(0))

    @property
    def at_risk_amount(self) -> Decimal:
        return (self.monthly_charges * AT_RISK_PCT / 100).quantize(CENT, ROUND_HALF_EVEN)

    def credits(self) -> dict[str, Decimal]:
        """SLA code → credit, for each failed SLA."""
        return {
            s.code: (self.at_risk_amount * s.allocation / 100).quantize(CENT, ROUND_HALF_EVEN)
            for s in SLAS
            if self.expected[s.code].outcome == "failed"
        }


def iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def day(d: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, d, hour, minute, tzinfo=UTC)


def judge(value: Fraction | Decimal, spec: SlaSpec) -> str:
    expected, minimum = Fraction(spec.expected), Fraction(spec.minimum)
    v = Fraction(value)
    if spec.lower_is_better:
        return "met" if v <= expected else "below_expected" if v <= minimum else "failed"
    return "met" if v >= expected else "below_expected" if v >= minimum else "failed"


def rounded(value: Fraction) -> Decimal:
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(
        Decimal("0.0001"), ROUND_HALF_EVEN
    )


def overlap(a: tuple[datetime, datetime], b: tuple[datetime, datetime]) -> int:
    start, end = max(a[0], b[0]), min(a[1], b[1])
    return max(0, int((end - start).total_seconds()) // 60)


# -- one SLA's telemetry, made to land on a drawn outcome -----------------------------------


# Downtime minutes (counted) that land on each outcome: AVAIL-CORE measures 44,520 minutes
# (the window excluded), so ≤ 44.52 meets 99.9 and ≤ 222.6 reaches 99.5; AVAIL-DR measures
# 44,580, so ≤ 222.9 meets 99.5 and ≤ 445.8 reaches 99.0.
DOWNTIME = {
    "AVAIL-CORE": {"met": (0, 40), "below_expected": (50, 220), "failed": (230, 600)},
    "AVAIL-DR": {"met": (0, 200), "below_expected": (230, 440), "failed": (460, 900)},
}


def availability(
    rng: random.Random, plan: ContractPlan, spec: SlaSpec, outcome: str
) -> SlaExpected:
    key = plan.key(spec.key_prefix)
    window = WINDOW if spec.code == "AVAIL-CORE" else None
    # A daily heartbeat at noon, so a clean month is observed (not no_data).
    for d in range(1, 32):
        at = iso(day(d, 12))
        plan.items.append({"kind": "sample", "service_key": key, "observed_at": at, "status": "up"})
    outages: list[tuple[datetime, datetime]] = []
    if window is not None and outcome == "failed" and rng.random() < 0.5:
        outages.append(DESIGN_OUTAGE)  # DESIGN's 300 minutes, 60 of them in the window
    else:
        lo, hi = DOWNTIME[spec.code][outcome]
        total = rng.randint(lo, hi)
        pieces = rng.randint(1, 3) if total >= 3 else 1
        days = rng.sample([d for d in range(2, 29) if d != 14], pieces)
        cuts = sorted(rng.sample(range(1, total), pieces - 1)) if pieces > 1 else []
        lengths = [b - a for a, b in zip([0, *cuts], [*cuts, total], strict=True)]
        for d, minutes in zip(days, lengths, strict=True):
            if minutes:
                start = day(d, 14, rng.randint(0, 59))
                outages.append((start, start + timedelta(minutes=minutes)))
    for start, end in outages:
        plan.items.append(
            {"service_key": key, "started_at": iso(start), "ended_at": iso(end)}  # an outage
        )
    excluded = 0 if window is None else int((window[1] - window[0]).total_seconds()) // 60
    downtime = sum(
        int((e - s).total_seconds()) // 60 - (overlap((s, e), window) if window else 0)
        for s, e in outages
    )
    measured = PERIOD_MINUTES - excluded
    value = Fraction(measured - downtime, measured) * 100
    return SlaExpected(spec.code, rounded(value), judge(value, spec))


# Misses out of 20 (P1) and 10 (P2) that land on each outcome.
MISSES = {
    "P1-RES": (20, {"met": (0, 1), "below_expected": (2, 2), "failed": (3, 6)}),
    "P2-RSP": (10, {"met": (0, 1), "below_expected": (2, 2), "failed": (3, 5)}),
}


def incidents(rng: random.Random, plan: ContractPlan, spec: SlaSpec, outcome: str) -> SlaExpected:
    count, ranges = MISSES[spec.code]
    misses = rng.randint(*ranges[outcome])
    missed = set(rng.sample(range(count), misses))
    target = int(spec.extra["target_minutes"])
    for n in range(count):
        opened = day(1 + n % 28, 15 + n // 28 * 4, rng.randint(0, 59))
        late = n in missed
        took = rng.randint(target + 1, target * 3) if late else rng.randint(1, target)
        item = {
            "kind": "incident",
            "service_key": plan.key(spec.key_prefix),
            "ticket_id": f"{spec.code}-{plan.suffix}-{n}",
            "revision": 1,
            "priority": spec.extra["priority"],
            "opened_at": iso(opened),
        }
        if spec.kind == "incident_response":
            item["responded_at"] = iso(opened + timedelta(minutes=took))
            item["resolved_at"] = iso(opened + timedelta(minutes=max(took, 60) + 30))
        else:
            item["resolved_at"] = iso(opened + timedelta(minutes=took))
        plan.items.append(item)
    value = Fraction(count - misses, count) * 100
    return SlaExpected(spec.code, rounded(value), judge(value, spec))


# The p95 of 31 values is the 30th smallest (nearest rank ⌈0.95 × 31⌉ = 30): the two
# largest values decide it.
TOP = {"met": (3000, 4000), "below_expected": (4001, 5500), "failed": (5501, 9000)}


def measurements(
    rng: random.Random, plan: ContractPlan, spec: SlaSpec, outcome: str
) -> SlaExpected:
    values = [Decimal(rng.randint(1000, 2999)) / 10 for _ in range(29)]
    second = Decimal(rng.randint(*TOP[outcome])) / 10
    values += [second, second + Decimal(rng.randint(0, 500)) / 10]
    rng.shuffle(values)
    for d, value in enumerate(values, start=1):
        plan.items.append(
            {
                "kind": "measurement",
                "service_key": plan.key(spec.key_prefix),
                "measured_at": iso(day(d, 18)),
                "value": str(value),
                "unit": "ms",
            }
        )
    rank = math.ceil(Fraction(95, 100) * len(values))
    p95 = sorted(values)[rank - 1]
    return SlaExpected(spec.code, p95, judge(p95, spec))


MAKERS = {
    "availability": availability,
    "incident_resolution": incidents,
    "incident_response": incidents,
    "measurement": measurements,
}


def check_arithmetic() -> None:
    """This module's arithmetic gives DESIGN's worked example: 44,580 minutes in March,
    (44,580 − 60 − 240) / (44,580 − 60) = 99.4609% → failed, ARA 11,035.20 with the
    consumption, 12% of 90,000.00 = 10,800.00 without."""
    assert PERIOD_MINUTES == 44_580, PERIOD_MINUTES
    counted = 300 - overlap(DESIGN_OUTAGE, WINDOW)
    value = Fraction(44_580 - 60 - counted, 44_580 - 60) * 100
    assert (rounded(value), judge(value, SLAS[0])) == (Decimal("99.4609"), "failed")
    with_arc = ContractPlan(0, "check", with_consumption=True)
    assert with_arc.at_risk_amount == Decimal("11035.20")
    assert ContractPlan(1, "check", with_consumption=False).at_risk_amount == Decimal("10800.00")


def plan_contracts(
    count: int, *, seed: int, failed: float, below: float, run: str
) -> list[ContractPlan]:
    """The contracts, each with its month of telemetry and its expected figures."""
    check_arithmetic()
    rng = random.Random(seed)
    plans = []
    for i in range(count):
        plan = ContractPlan(index=i, suffix=f"{run}-{i:05d}", with_consumption=i % 2 == 0)
        for spec in SLAS:
            draw = rng.random()
            outcome = (
                "failed" if draw < failed else "below_expected" if draw < failed + below else "met"
            )
            plan.expected[spec.code] = MAKERS[spec.kind](rng, plan, spec, outcome)
        plans.append(plan)
    return plans


def sla_definitions(plan: ContractPlan, window: dict[str, str]) -> list[dict[str, Any]]:
    """The five SLAs as the contract document names them."""
    out = []
    for spec in SLAS:
        sla: dict[str, Any] = {
            "code": spec.code,
            "name": spec.code,
            "metric_kind": spec.kind,
            "service_key": plan.key(spec.key_prefix),
            "expected_level": str(spec.expected),
            "minimum_level": str(spec.minimum),
            "allocation_pct": str(spec.allocation),
            **{k: v for k, v in spec.extra.items()},
        }
        if spec.kind == "measurement":
            sla["unit"] = "ms"
        if spec.code == "AVAIL-CORE":
            sla["maintenance_windows"] = {"fixed": [dict(window)]}
        out.append(sla)
    return out


def batches(plans: list[ContractPlan], per_batch: int) -> Iterator[list[dict[str, Any]]]:
    """The telemetry of `per_batch` contracts at a time."""
    for i in range(0, len(plans), per_batch):
        yield [item for plan in plans[i : i + per_batch] for item in plan.items]
