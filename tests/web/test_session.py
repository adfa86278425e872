"""The session cookie and the CSRF check, as pure functions: what a cookie must be to count, and
which POSTs are taken."""

from __future__ import annotations

import pytest

from server.web.backoffice.session import MAX_AGE_S, same_origin, sign, token_hash, verify

SECRET, NOW = "s" * 64, 1_800_000_000
HASH = token_hash("some-token")


def test_a_cookie_we_signed_gives_back_the_token_hash_and_never_the_token() -> None:
    cookie = sign(SECRET, HASH, NOW)
    assert verify(SECRET, cookie, NOW + 60) == HASH
    assert "some-token" not in cookie


@pytest.mark.parametrize("cookie", [
    None, "", "no-dot", "a.b.c", "x" * 600,
    sign(SECRET, HASH, NOW)[:-2] + "AA",  # another signature
    sign("another secret", HASH, NOW),  # another server's key
    "eyJoIjoiYWJjIiwidCI6MTgwMDAwMDAwMH0.forged",
])
def test_a_tampered_foreign_or_malformed_cookie_counts_for_nothing(cookie: str | None) -> None:
    assert verify(SECRET, cookie, NOW) is None


def test_a_cookie_expires_after_its_working_day_and_is_not_taken_from_the_future() -> None:
    cookie = sign(SECRET, HASH, NOW)
    assert verify(SECRET, cookie, NOW + MAX_AGE_S) == HASH
    assert verify(SECRET, cookie, NOW + MAX_AGE_S + 1) is None
    assert verify(SECRET, cookie, NOW - 5) is None


@pytest.mark.parametrize(("origin", "host", "htmx", "taken"), [
    ("http://127.0.0.1:8000", "127.0.0.1:8000", False, True),
    ("http://LOCALHOST:8000", "localhost:8000", False, True),
    ("https://evil.example", "127.0.0.1:8000", True, False),
    ("http://127.0.0.1:9000", "127.0.0.1:8000", False, False),
    ("null", "127.0.0.1:8000", True, False),
    (None, "127.0.0.1:8000", True, True),
    (None, "127.0.0.1:8000", False, False),
    ("http://127.0.0.1:8000", None, False, False),
])
def test_a_post_is_taken_only_from_this_site(origin: str | None, host: str | None, htmx: bool, taken: bool) -> None:
    assert same_origin(origin, host, htmx) is taken
