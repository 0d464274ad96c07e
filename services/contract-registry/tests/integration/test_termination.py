"""The end of a contract: terminated now, terminated on a later date by the periodic job,
or expired after its end date; each publishes contract.terminated with the last terms."""

import copy
from datetime import UTC, datetime
from typing import Any

from contract_registry.contracts.termination import end_due_contracts
from contract_registry.main import END_CONTRACTS_JOB, create_app
from contract_registry.settings import Settings
from crm_platform.clock import FixedClock
from crm_platform.scheduler import run_once
from crm_testing import examples
from crm_testing.apps import running_app, settings_for
from crm_testing.kafka import EventCollector


def _app(database_url: str, kafka_bootstrap: str, clock: FixedClock) -> Any:
    settings = settings_for(
        Settings,
        database_url=database_url,
        bootstrap=kafka_bootstrap,
        expiry_interval_seconds=3600,  # the test runs the job itself
    )
    return create_app(settings, clock=clock)


async def test_terminating_now_publishes_the_terms_in_force(
    database_url: str, kafka_bootstrap: str
) -> None:
    clock = FixedClock(datetime(2026, 5, 10, 14, tzinfo=UTC))
    async with (
        running_app(_app(database_url, kafka_bootstrap, clock)) as (_, client),
        EventCollector(kafka_bootstrap, ["contracts.v1"]) as kafka,
    ):
        doc = examples.contract_document()
        cid = (await client.post("/contracts", json=doc)).json()["id"]
        await client.post(f"/contracts/{cid}/activate")
        # An amendment that would only take effect after the termination.
        later = copy.deepcopy({k: v for k, v in doc.items() if k != "tenant_id"})
        later["credit_terms"]["at_risk_pct"] = "15"
        await client.post(
            f"/contracts/{cid}/amendments",
            json={"effective_from": "2026-10-01", "terms": later, "activate": True},
        )

        ended = await client.post(
            f"/contracts/{cid}/terminate", json={"reason": "Termination for convenience"}
        )
        assert ended.status_code == 200, ended.text
        body = ended.json()
        assert (body["status"], body["terminates_on"], body["termination_reason"]) == (
            "terminated",
            "2026-05-10",
            "Termination for convenience",
        )
        again = await client.post(f"/contracts/{cid}/terminate", json={"reason": "again"})
        assert (again.status_code, again.json()["error"]["code"]) == (409, "not_active")
        amend = await client.post(
            f"/contracts/{cid}/amendments", json={"effective_from": "2026-06-01", "terms": later}
        )
        assert amend.status_code == 409

        [event] = await kafka.wait_for(
            lambda e: e.subject == cid and e.type == "contract.terminated"
        )
    assert event.data["reason"] == "Termination for convenience"
    assert event.data["terms"]["version"] == 1  # version 2 never came into force
    assert event.data["terms"]["credit_terms"]["at_risk_pct"] == "12"


async def test_a_scheduled_termination_and_an_expiry_happen_at_local_midnight(
    database_url: str, kafka_bootstrap: str
) -> None:
    clock = FixedClock(datetime(2026, 5, 10, 14, tzinfo=UTC))
    app = _app(database_url, kafka_bootstrap, clock)
    async with (
        running_app(app) as (_, client),
        EventCollector(kafka_bootstrap, ["contracts.v1"]) as kafka,
    ):
        ids = []
        for end_date in ("2028-12-31", "2026-06-30"):
            doc = {**examples.contract_document(), "end_date": end_date}
            cid = (await client.post("/contracts", json=doc)).json()["id"]
            await client.post(f"/contracts/{cid}/activate")
            ids.append(cid)
        scheduled, expiring = ids

        bad = await client.post(
            f"/contracts/{scheduled}/terminate",
            json={"reason": "x", "effective_on": "2029-02-01"},
        )
        assert bad.status_code == 422
        assert bad.json()["error"]["details"][0]["loc"] == "body.effective_on"
        notice = await client.post(
            f"/contracts/{scheduled}/terminate",
            json={"reason": "Change of control (clause 21)", "effective_on": "2026-06-01"},
        )
        assert (notice.json()["status"], notice.json()["terminates_on"]) == ("active", "2026-06-01")

        async def status(cid: str) -> str:
            return str((await client.get(f"/contracts/{cid}")).json()["status"])

        # 23:59 on 31 May in New York: still in force.
        clock.set(datetime(2026, 6, 1, 3, 59, tzinfo=UTC))
        assert await run_once(app, END_CONTRACTS_JOB, end_due_contracts)
        assert await status(scheduled) == "active"
        clock.set(datetime(2026, 6, 1, 4, 0, tzinfo=UTC))
        await run_once(app, END_CONTRACTS_JOB, end_due_contracts)
        assert (await status(scheduled), await status(expiring)) == ("terminated", "active")

        clock.set(datetime(2026, 7, 1, 3, 59, tzinfo=UTC))
        await run_once(app, END_CONTRACTS_JOB, end_due_contracts)
        assert await status(expiring) == "active"
        clock.set(datetime(2026, 7, 1, 4, 0, tzinfo=UTC))
        await run_once(app, END_CONTRACTS_JOB, end_due_contracts)
        await run_once(app, END_CONTRACTS_JOB, end_due_contracts)  # a second run finds nothing
        expired = (await client.get(f"/contracts/{expiring}")).json()
        assert (expired["status"], expired["termination_reason"]) == ("expired", "expired")

        events = await kafka.wait_for(lambda e: e.type == "contract.terminated", count=2)
    by_contract = {e.subject: e.data for e in events}
    assert by_contract[scheduled]["reason"] == "Change of control (clause 21)"
    assert by_contract[expiring]["reason"] == "expired"
    assert by_contract[expiring]["terms"]["end_date"] == "2026-06-30"
