//! The idempotency lease: who may run a keyed `POST`, and what later copies are answered.
