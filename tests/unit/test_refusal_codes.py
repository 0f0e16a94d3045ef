"""Every refusal code, the domain's and the API's own, has its HTTP status: a code added without
one would otherwise fail where it is first raised."""

from __future__ import annotations

from audiodas.api import refusals
from audiodas.api.errors import STATUS_BY_CODE
from audiodas.domain import Rejected


def codes(holder: object) -> set[str]:
    return {v for k, v in vars(holder).items() if k.isupper() and isinstance(v, str)}


def test_every_code_has_a_status_and_every_status_a_code() -> None:
    domain, api = codes(Rejected), codes(refusals)
    assert domain and api and not domain & api  # one home per code
    assert set(STATUS_BY_CODE) == domain | api
    assert all(400 <= status < 600 for status in STATUS_BY_CODE.values())


def test_the_domain_keeps_what_a_user_can_ask_and_the_api_the_transport() -> None:
    assert {"not_found", "under_retention", "invalid_field"} <= codes(Rejected)
    assert {"host_not_allowed", "malformed_range", "body_timeout"} <= codes(refusals)
