"""Pure service-credit arithmetic."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from crm_events.types import round_money
from crm_platform.periods import shift as shift_period

HUNDRED = Decimal(100)


def at_risk_amount(monthly_charges: Decimal, at_risk_pct: Decimal, currency: str) -> Decimal:
    """ARA = at_risk_pct × M."""
    return round_money(monthly_charges * at_risk_pct / HUNDRED, currency)


@dataclass(frozen=True)
class CreditAmount:
    amount: Decimal  # uncapped: the ceiling is settlement's business
    formula: str


def service_credit(
    *,
    at_risk: Decimal,
    allocation_pct: Decimal,
    currency: str,
    category_pct: Decimal | None = None,
) -> CreditAmount:
    """Credit = ARA × allocation % (× category % when the contract uses categories),
    rounded half-even; the period's ceiling is applied by `settlement.settle`."""
    factor = allocation_pct / HUNDRED
    formula = f"at-risk {at_risk} × allocation {allocation_pct}%"
    if category_pct is not None:
        factor *= category_pct / HUNDRED
        formula = f"at-risk {at_risk} × category {category_pct}% × allocation {allocation_pct}%"
    amount = round_money(at_risk * factor, currency)
    return CreditAmount(amount=amount, formula=f"{formula} = {amount}")


# Repeated defaults ---------------------------------------------------------------------

BELOW_EXPECTED = "below_expected"
FAILED = "failed"
MET = "met"


@dataclass(frozen=True)
class CreditDue:
    due: bool
    reason: str  # failed, repeated_default or none
    explanation: str
    below_expected_periods: tuple[str, ...] = ()


def credit_due(
    *,
    period_label: str,
    outcome: str,
    repeated_default_count: int | None,
    outcomes: dict[str, str],
) -> CreditDue:
    """Whether a period earns the customer a credit.

    `failed` does. `below_expected` does when the SLA has a repeated-default rule and the
    period is at least the k-th below_expected of the last 12 periods (this one included):
    the k-th and every later one within the window count as failures. `outcomes` maps
    period labels of the same SLA to their outcome.
    """
    if outcome == FAILED:
        return CreditDue(True, "failed", f"{period_label} failed (worse than the minimum level)")
    if outcome != BELOW_EXPECTED or repeated_default_count is None:
        return CreditDue(False, "none", f"{period_label} {outcome}: no credit")
    window = [shift_period(period_label, -i) for i in range(11, -1, -1)]
    below = tuple(p for p in window if outcomes.get(p) == BELOW_EXPECTED or p == period_label)
    if len(below) >= repeated_default_count:
        return CreditDue(
            True,
            "repeated_default",
            f"repeated default: below_expected in {len(below)} of the 12 periods "
            f"{window[0]}..{window[-1]} ({', '.join(below)}), at least "
            f"{repeated_default_count}: {period_label} counts as a failure",
            below,
        )
    return CreditDue(
        False,
        "none",
        f"{period_label} below_expected: {len(below)} of the last 12 periods, fewer than the "
        f"{repeated_default_count} that make a repeated default",
        below,
    )


# Earn-back -----------------------------------------------------------------------------


class EarnBackStatus:
    NEW = "new"  # a credit not evaluated yet (the first transition starts from here)
    NOT_APPLICABLE = "not_applicable"  # the SLA has no earn-back clause
    PENDING = "pending"  # watching the following periods
    EARNED_BACK = "earned_back"  # met in each of them: the credit is returned
    CANCELLED = "cancelled"  # a period in the window was not met
    VOID = "void"  # the credit is zero (e.g. restated away)


@dataclass(frozen=True)
class EarnBackState:
    status: str
    progress: int  # consecutive met periods after the credited one
    decided_in: str | None  # the period that decided it (earned back or cancelled)
    explanation: str


def earn_back_state(
    *,
    credited_period: str,
    earn_back_periods: int,
    credit_amount: Decimal,
    outcomes: dict[str, str],
) -> EarnBackState:
    """The earn-back state of a credit, derived from the outcomes of the following periods.

    Earned back when the SLA is `met` in each of the next `earn_back_periods` periods; the
    credit is returned in the last of them. Any other known outcome in the window (including
    no_data) cancels it. Deriving the state from the stored outcomes (rather than counting
    events) makes it right whatever order the closes and restatements arrive in.
    """
    if credit_amount == 0:
        return EarnBackState(EarnBackStatus.VOID, 0, None, "no credit to earn back")
    if earn_back_periods == 0:
        return EarnBackState(EarnBackStatus.NOT_APPLICABLE, 0, None, "no earn-back clause")
    window = [shift_period(credited_period, i) for i in range(1, earn_back_periods + 1)]
    progress = 0
    for label in window:
        outcome = outcomes.get(label)
        if outcome is None:
            return EarnBackState(
                EarnBackStatus.PENDING,
                progress,
                None,
                f"met in {progress} of the {earn_back_periods} periods {window[0]}..{window[-1]}"
                f"; waiting for {label}",
            )
        if outcome != MET:
            return EarnBackState(
                EarnBackStatus.CANCELLED,
                progress,
                label,
                f"{label} was {outcome}, not met: the earn-back of {credited_period} is cancelled",
            )
        progress += 1
    return EarnBackState(
        EarnBackStatus.EARNED_BACK,
        progress,
        window[-1],
        f"met in each of the {earn_back_periods} periods {window[0]}..{window[-1]}: "
        f"the credit of {credited_period} is returned in {window[-1]}",
    )


# Earn-back bookings ----------------------------------------------------------------------


@dataclass(frozen=True)
class EarnBackBooking:
    """An earn-back as the ERP books it: the billing month that returns it, and how much."""

    period_label: str
    amount: Decimal


@dataclass(frozen=True)
class EarnBackMove:
    kind: str  # grant (credit_earned_back) or reverse (credit_earn_back_reversed)
    period_label: str
    amount: Decimal  # the amount returned after the move
    previous_amount: Decimal  # what had been returned in that period before it

    @property
    def delta(self) -> Decimal:
        return self.amount - self.previous_amount


GRANT = "grant"
REVERSE = "reverse"


def earn_back_moves(
    published: EarnBackBooking | None, due: EarnBackBooking | None
) -> list[EarnBackMove]:
    """What to tell the ERP to go from the earn-back it was told of to the one now due.

    Nothing when they agree; a reversal when an earn-back no longer holds (or moved to
    another month: reversed there, granted in the new one); a grant when one is newly due;
    a revised grant, by the difference, when the returned amount changed."""
    zero = Decimal(0)
    if published is not None and published.amount == 0:
        published = None  # reversed before: as if never granted
    if published == due:
        return []
    moves: list[EarnBackMove] = []
    if published is not None and (due is None or due.period_label != published.period_label):
        moves.append(EarnBackMove(REVERSE, published.period_label, zero, published.amount))
        published = None
    if due is not None:
        before = published.amount if published is not None else zero
        moves.append(EarnBackMove(GRANT, due.period_label, due.amount, before))
    return moves
