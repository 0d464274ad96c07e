"""Charges of a period: band rates and the band floor, the volume band, rebates over the
contract year, amendments, and computing on demand."""

from __future__ import annotations

from billing_harness import Billing, terms_with

from crm_testing import examples

BANDED_SRV_WIN = {
    **examples.contract_document()["price_book"][0],
    "volume_band": {"floor_pct": "80", "ceiling_pct": "120"},
    "band_rates": [
        {"from_pct": "80", "to_pct": "100", "rrc_rate": "110.00"},
        {"from_pct": "100", "to_pct": "150", "arc_rate": "130.00"},
    ],
}


async def test_below_the_band_floor_rrc_stops_at_the_floor_and_the_band_is_reported(
    billing: Billing,
) -> None:
    tck = examples.contract_document()["price_book"][1]
    await billing.activate(terms_with(billing.contract_id, price_book=[BANDED_SRV_WIN, tck]))
    items = examples.consumption_items(billing.contract_id)
    items[0]["quantity"] = "120"  # 60% of the baseline of 200, below the 80% floor
    await billing.consume(items)
    url = f"/contracts/{billing.subject}/periods/2026-03/compute"
    computed = (await billing.client.post(url)).json()
    rrc = [ln for ln in computed["lines"] if ln["kind"] == "rrc"]
    # Charged as if at the floor, 160: (200 − 160) × 110.00 (the 80–100% band's rate).
    assert [(ln["quantity"], ln["rate"], ln["amount"]) for ln in rrc] == [
        ("40", "110.00", "-4400.00")
    ]
    assert "below the band floor 80% × 200 = 160" in rrc[0]["explanation"]["formula"]
    assert f"{billing.subject}-SRV-WIN" in rrc[0]["explanation"]["source_ids"]
    assert computed["monthly_charges"] == "85600.00" and computed["revision"] == 1
    [band] = await billing.wait("billing.volume_band_exceeded")
    assert (band.data["resource_unit"], band.data["direction"], band.data["actual"]) == (
        "SRV-WIN",
        "below",
        "120",
    )
    [charges] = await billing.wait("billing.charges_computed")
    assert charges.data["monthly_charges"] == "85600.00" and charges.data["revision"] == 1
    assert ("rrc", "SRV-WIN", "-4400.00") in [
        (ln["kind"], ln["item_code"], ln["amount"]) for ln in charges.data["lines"]
    ]
    # Computing again with nothing changed publishes nothing.
    again = (await billing.client.post(url)).json()
    assert again["revision"] == 1
    # Above the band: 250 is 125% → ARC at the 100–150% band's 130.00 on the whole variance.
    fix = {**items[0], "quantity": "250", "correction": True}
    assert (await billing.consume([fix])).json()["corrected"] == 1
    [above] = await billing.wait(
        "billing.volume_band_exceeded", lambda e: e.data["direction"] == "above"
    )
    assert above.data["actual"] == "250"
    [second] = await billing.wait("billing.charges_computed", lambda e: e.data["revision"] == 2)
    assert ("arc", "SRV-WIN", "6500.00") in [
        (ln["kind"], ln["item_code"], ln["amount"]) for ln in second.data["lines"]
    ]
    await billing.settle()
    assert len(billing.of("billing.charges_computed")) == 2
    assert len(billing.of("billing.volume_band_exceeded")) == 2


async def test_rebates_over_the_contract_year_marginal_then_amended_to_retroactive(
    billing: Billing,
) -> None:
    tiers = [
        {"from_amount": "0", "to_amount": "100000", "rebate_pct": "0"},
        {"from_amount": "100000", "to_amount": "200000", "rebate_pct": "2"},
        {"from_amount": "200000", "rebate_pct": "3"},
    ]
    terms = terms_with(billing.contract_id, rebate_tiers=tiers)
    await billing.activate(terms)
    # No consumption: M = 90,000.00 a month at baseline.
    rebates = []
    for period in ("2026-01", "2026-02", "2026-03"):
        r = await billing.client.post(f"/contracts/{billing.subject}/periods/{period}/compute")
        rebates.append(r.json()["rebates_total"])
    # Spend 90,000 → 0; 180,000 → 80,000 × 2% = 1,600.00;
    # 270,000 → 2,000 + 70,000 × 3% = 4,100.00, of which 1,600.00 granted: 2,500.00.
    assert rebates == ["0.00", "-1600.00", "-2500.00"]
    march = (await billing.client.get(f"/contracts/{billing.subject}/charges/2026-03")).json()
    [line] = [ln for ln in march["lines"] if ln["kind"] == "rebate"]
    assert line["explanation"]["inputs"]["spend_before"] == "180000.00"
    assert "already granted 1600.00" in line["explanation"]["formula"]

    # The invoice forgets the rebate: unapplied_rebate.
    doc = {
        **examples.invoice_document(billing.contract_id),
        "lines": [
            {**examples.INVOICE_LINES[0]},
            {**examples.INVOICE_LINES[2]},
        ],
        "total": "90000.00",
    }
    rec = (await billing.client.post("/invoices", json=doc)).json()["reconciliation"]
    assert [(d["discrepancy_class"], d["amount"]) for d in rec["discrepancies_found"]] == [
        ("unapplied_rebate", "2500.00")
    ]

    # An amendment from March makes the tiers retroactive: 180,000 × 2% = 3,600.00 was due
    # before March, 270,000 × 3% = 8,100.00 through it → March's rebate is 4,500.00, and the
    # March invoice is reconciled again.
    retro = [{**t, "retroactive": True} for t in tiers]
    amended = terms_with(
        billing.contract_id, rebate_tiers=retro, version=2, effective_from="2026-03-01"
    )
    await billing.amend(amended)
    [again] = await billing.wait("reconciliation.completed", lambda e: e.data["revision"] == 2)
    assert again.data["sums_by_class"]["unapplied_rebate"] == "4500.00"
    book = (
        await billing.client.get(
            f"/contracts/{billing.subject}/price-book", params={"on": "2026-02-15"}
        )
    ).json()
    assert book["version"] == 1 and not book["rebate_tiers"][1]["retroactive"]
    book = (
        await billing.client.get(
            f"/contracts/{billing.subject}/price-book", params={"on": "2026-03-01"}
        )
    ).json()
    assert book["version"] == 2 and book["rebate_tiers"][1]["retroactive"]
