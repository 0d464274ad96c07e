"""A browser's HTTP Basic answer carries the API key as its password (or as the user name
when the password is empty, as `curl -u "$KEY:"` sends it); anything else carries none."""

import base64

import pytest

from crm_platform.browser_auth import CHALLENGE, key_from_basic


def basic(credentials: str) -> str:
    return "Basic " + base64.b64encode(credentials.encode()).decode()


@pytest.mark.parametrize(
    ("header", "key"),
    [
        (basic("operator:crm_abc_secret"), "crm_abc_secret"),
        (basic(":crm_abc_secret"), "crm_abc_secret"),
        (basic("crm_abc_secret:"), "crm_abc_secret"),
        ("basic " + base64.b64encode(b"x:k:with:colons").decode(), "k:with:colons"),
        (basic(":"), None),
        ("Basic not-base64!!", None),
        ("Basic " + base64.b64encode(b"\xff\xfe:\xff").decode(), None),
        ("Bearer crm_abc_secret", None),
        ("", None),
    ],
)
def test_the_key_is_the_basic_password(header: str, key: str | None) -> None:
    assert key_from_basic(header) == key


def test_the_challenge_is_basic_alone_for_a_browser_to_prompt() -> None:
    assert CHALLENGE.startswith('Basic realm="') and "Bearer" not in CHALLENGE
    assert 'charset="UTF-8"' in CHALLENGE
