//! `Idempotency-Key` on `POST`s that create something (API.md, "Conventions").
//!
//! The first successful answer is kept under the caller, the route and the key; the same
//! key with the same body gets that answer again without running the handler, and with
//! another body gets 422 `idempotency_key_reused`. Where it is kept depends on what stands
//! behind it:
//!
//! - Ingest: in KV for 24 hours, so a replayed batch touches no Durable Object. KV is
//!   eventually consistent and two copies racing each other may both miss it; that is
//!   safe because every event is deduped by its own key in its customer's object, so a
//!   copy that slips past KV is answered `duplicate`, never counted twice.
//! - Every other `POST` (a create, a token, a void, an approve): in the key's own
//!   `IdempotencyObject` ([`crate::objects::idempotency`]), which lets one copy run and
//!   gives the others its answer (or 409 `idempotency_key_in_use` while it runs). Nothing
//!   else would stop two racing copies of a create from making two customers.

use crate::protocol::{call, decode, is_kept, key_reused, Claim, KeyCall, KV};
use crate::respond::{internal, Reply};
use edgemeter_core::time::Timestamp;
use edgemeter_core::ApiError;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use worker::{Env, Request, Stub};

/// The binding of the per-key objects.
const KEYS: &str = "IDEMPOTENCY_KEYS";

/// How long an answer is kept: API.md promises at least 24 hours.
const TTL_SECONDS: u64 = 24 * 60 * 60;
const MAX_KEY_LEN: usize = 255;

#[derive(Serialize, Deserialize)]
struct Stored {
    body_sha256: String,
    status: u16,
    body: String,
}

/// What a claim on a key says.
pub enum Claimed {
    /// Run the request, making its resource ids from this seed.
    Run(IdSeed),
    /// Answer with what the first copy answered.
    Answered(Reply),
}

/// Where a keyed request's new resource ids come from: the time of the key's first copy
/// and bytes of the key's own hash, the same on every copy that runs. So a copy that runs
/// again after one that failed half-way (its customer's object written, the directory
/// not) writes to the same object and completes it, instead of making a second customer.
#[derive(Clone, Copy, Debug)]
pub struct IdSeed {
    pub at: Timestamp,
    pub random: [u8; 10],
}

/// A request that carries an `Idempotency-Key`.
pub struct Replay {
    kv_key: String,
    body_sha256: String,
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Replay {
    /// Reads the header; `Ok(None)` when there is none.
    pub fn from_request(req: &Request, route: &str, body: &[u8]) -> std::result::Result<Option<Replay>, ApiError> {
        let Some(key) = req.headers().get("idempotency-key").ok().flatten() else {
            return Ok(None);
        };
        if key.is_empty() || key.len() > MAX_KEY_LEN {
            return Err(ApiError::invalid(
                "Idempotency-Key",
                "the `Idempotency-Key` header must be 1 to 255 characters",
            ));
        }
        // Scope by caller, so one client's keys never answer another's requests.
        let caller = req.headers().get("authorization").ok().flatten().unwrap_or_default();
        let scope = hex(&Sha256::digest(caller.as_bytes())[..8]);
        let key_hash = hex(&Sha256::digest(key.as_bytes())[..16]);
        Ok(Some(Replay {
            kv_key: format!("replay:{scope}:{route}:{key_hash}"),
            body_sha256: hex(&Sha256::digest(body)),
        }))
    }

    /// The stored answer for this key, or `None` to run the request.
    pub async fn lookup(&self, env: &Env) -> std::result::Result<Option<Reply>, ApiError> {
        let kv = env.kv(KV).map_err(|e| internal("KV binding", e))?;
        let stored: Option<Stored> = kv.get(&self.kv_key).json().await.map_err(|e| internal("KV get", e))?;
        match stored {
            None => Ok(None),
            Some(s) if s.body_sha256 == self.body_sha256 => Ok(Some(Reply::new(s.status, s.body.into_bytes()))),
            Some(_) => Err(key_reused()),
        }
    }

    /// Asks the key's object whether this copy may run: [`Claimed::Run`] to run it (the
    /// key is now held for it: call [`Replay::finish`] with its answer), or the first
    /// copy's answer. Errs with 409 `idempotency_key_in_use` while another copy runs, and
    /// 422 `idempotency_key_reused` for another body.
    pub async fn claim(&self, env: &Env, now: Timestamp) -> std::result::Result<Claimed, ApiError> {
        let claim = KeyCall::Claim { body_sha256: self.body_sha256.clone(), now };
        match decode::<Claim>(&call(&self.object(env)?, &claim).await?)? {
            Claim::Run { first_at } => {
                // The same key and first time give the same ids on every run of this
                // request: a retry after a failure half-way completes that resource.
                let digest = Sha256::digest(self.kv_key.as_bytes());
                let mut random = [0u8; 10];
                random.copy_from_slice(&digest[..10]);
                Ok(Claimed::Run(IdSeed { at: first_at, random }))
            }
            Claim::Answered { status, body } => Ok(Claimed::Answered(Reply::new(status, body.into_bytes()))),
        }
    }

    /// Gives the key's object this copy's answer: a success is kept for the copies to
    /// come, anything else frees the key so that a retry runs again.
    pub async fn finish(&self, env: &Env, status: u16, body: &[u8]) -> std::result::Result<(), ApiError> {
        let finish = KeyCall::Finish {
            body_sha256: self.body_sha256.clone(),
            status,
            body: String::from_utf8_lossy(body).into_owned(),
        };
        decode::<serde_json::Value>(&call(&self.object(env)?, &finish).await?).map(|_| ())
    }

    fn object(&self, env: &Env) -> std::result::Result<Stub, ApiError> {
        env.durable_object(KEYS)
            .and_then(|ns| ns.get_by_name(&self.kv_key))
            .map_err(|e| internal("idempotency object binding", e))
    }

    /// Keeps a successful answer in KV; other answers are not kept, so a retry runs again.
    pub async fn store(&self, env: &Env, status: u16, body: &[u8]) -> std::result::Result<(), ApiError> {
        if !is_kept(status) {
            return Ok(());
        }
        let stored =
            Stored { body_sha256: self.body_sha256.clone(), status, body: String::from_utf8_lossy(body).into_owned() };
        let kv = env.kv(KV).map_err(|e| internal("KV binding", e))?;
        kv.put(&self.kv_key, serde_json::to_string(&stored).map_err(|e| internal("rendering replay", e))?)
            .map_err(|e| internal("KV put", e))?
            .expiration_ttl(TTL_SECONDS)
            .execute()
            .await
            .map_err(|e| internal("KV put", e))
    }
}
