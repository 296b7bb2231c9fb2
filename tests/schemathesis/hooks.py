"""Hooks for the schemathesis run of tests/tests/schemathesis.rs (SCHEMATHESIS_HOOKS)."""

import uuid

import schemathesis


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    # A client sends a fresh Idempotency-Key for each new request. Generated keys repeat
    # across cases with different bodies, which the server rightly answers 422
    # `idempotency_key_reused`; the e2e tests hold those replays. Negative cases are left
    # alone: they expect a 4xx anyway, and editing one makes schemathesis revalidate it as
    # positive (it would then send a header the case means to leave out).
    if case.meta is not None and case.meta.generation.mode.is_negative:
        return
    headers = case.headers or {}
    key = headers.get("Idempotency-Key")
    if key is not None and 1 <= len(key) <= 255:
        headers["Idempotency-Key"] = str(uuid.uuid4())
    # A reservation's `idempotency_key` (in the body) names it: generated keys repeat
    # across cases with other quantities, which the server rightly answers 422
    # `idempotency_key_reused`. tests/tests/entitlements.rs holds that replay.
    body = case.body
    if (
        isinstance(body, dict)
        and case.operation.path == "/v1/customers/{id}/reservations"
        and isinstance(body.get("idempotency_key"), str)
    ):
        body["idempotency_key"] = str(uuid.uuid4())
