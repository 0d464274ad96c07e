"""The bootstrap administrator key every test stack is started with."""

ADMIN_KEY = "crm-test-admin-key-not-for-production"
ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN_KEY}"}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
