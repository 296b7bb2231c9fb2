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
