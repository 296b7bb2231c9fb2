//! API.md "Contracts": drafts in the catalog, their signed documents in R2, and
//! acceptance, which creates the customer and its items exactly once (`core::contract`).

use super::{call, catalog_stub, customer_stub, decode, enum_param, fresh_id, list_params, query_value};
use crate::front::replay::hex;
use crate::front::Ctx;
use crate::protocol::{ask, customer, Accepting, CatalogCall};
use crate::respond::{internal, Reply};
use edgemeter_core::contract::{document_name, sniff_document, Contract, ContractStatus, Document};
use edgemeter_core::customer::Customer;
use edgemeter_core::{ApiError, ErrorCode};
use serde::Serialize;
use sha2::{Digest, Sha256};
use worker::{Bucket, HttpMetadata};

/// The R2 binding for documents.
const DOCUMENTS: &str = "DOCUMENTS";

/// On a path, anything but a contract id is an unknown contract.
fn contract_id(id: &str) -> Result<String, ApiError> {
    if edgemeter_core::id::is_id(id, "ctr") {
        Ok(id.to_owned())
    } else {
        Err(ApiError::new(ErrorCode::NotFound, "no such contract"))
    }
}

fn text(body: &[u8]) -> Result<String, ApiError> {
    String::from_utf8(body.to_vec()).map_err(|_| ApiError::new(ErrorCode::InvalidJson, "body is not UTF-8"))
}

pub async fn create(ctx: &Ctx, body: &[u8]) -> Result<Reply, ApiError> {
    let call_ = CatalogCall::CreateContract { id: fresh_id("ctr", ctx)?, now: ctx.now, body: text(body)? };
    call(&catalog_stub(&ctx.env)?, &call_).await
}

pub async fn get(ctx: &Ctx, id: &str) -> Result<Reply, ApiError> {
    call(&catalog_stub(&ctx.env)?, &CatalogCall::GetContract { id: contract_id(id)?, now: ctx.now }).await
}

pub async fn list(ctx: &Ctx, query: &[(String, String)]) -> Result<Reply, ApiError> {
    let (limit, cursor) = list_params(query)?;
    let status = enum_param(
        query,
        "status",
        ContractStatus::parse,
        "`status` must be draft, accepting, accepted, canceled or expired",
    )?;
    call(&catalog_stub(&ctx.env)?, &CatalogCall::ListContracts { limit, cursor, status, now: ctx.now }).await
}

pub async fn patch(ctx: &Ctx, id: &str, body: &[u8]) -> Result<Reply, ApiError> {
    let call_ = CatalogCall::PatchContract { id: contract_id(id)?, now: ctx.now, body: text(body)? };
    call(&catalog_stub(&ctx.env)?, &call_).await
}

pub async fn cancel(ctx: &Ctx, id: &str) -> Result<Reply, ApiError> {
    call(&catalog_stub(&ctx.env)?, &CatalogCall::CancelContract { id: contract_id(id)?, now: ctx.now }).await
}

/// Accepting: the catalog moves the draft to `accepting` and names what it creates; the
/// customer's object creates the customer and items in one transaction; the catalog
/// records both. Every step can run again, so a retry after any failure completes it.
pub async fn accept(ctx: &Ctx, id: &str) -> Result<Reply, ApiError> {
    let id = contract_id(id)?;
    let catalog = catalog_stub(&ctx.env)?;
    let begun: Accepting = decode(&call(&catalog, &CatalogCall::BeginAccept { id: id.clone(), now: ctx.now }).await?)?;
    let stub = customer_stub(&ctx.env, &begun.acceptance.customer.id)?;
    let customer: Customer = ask(&stub, customer::Adopt { acceptance: begun.acceptance }).await?;
    if ctx.fault.as_deref() == Some("accept-after-customer") {
        return Err(ApiError::new(ErrorCode::InternalError, format!("fault injected after creating {}", customer.id)));
    }
    let finish = CatalogCall::FinishAccept { id, now: ctx.now, customer: customer.clone() };
    let contract: Contract = decode(&call(&catalog, &finish).await?)?;
    #[derive(Serialize)]
    struct Accepted {
        contract: Contract,
        customer: Customer,
    }
    Reply::json(200, &Accepted { contract, customer })
}

fn bucket(ctx: &Ctx) -> Result<Bucket, ApiError> {
    ctx.env.bucket(DOCUMENTS).map_err(|e| internal("R2 binding", e))
}

/// Longest `filename` a document upload takes, in characters.
const MAX_FILENAME_CHARS: usize = 255;

/// `PUT /v1/contracts/{id}/document`: the raw file (at most 10 MiB, read by the front).
/// Its type is read from its bytes; it is stored under its hash, then recorded on the
/// draft.
pub async fn put_document(ctx: &Ctx, id: &str, query: &[(String, String)], bytes: &[u8]) -> Result<Reply, ApiError> {
    let id = contract_id(id)?;
    let filename = query_value(query, "filename");
    // The document's bound (openapi.json's `maxLength`); the stored name is cleaned and
    // shortened further by `document_name`.
    if filename.is_some_and(|f| f.chars().count() > MAX_FILENAME_CHARS) {
        return Err(ApiError::invalid("filename", "`filename` must be at most 255 characters"));
    }
    let catalog = catalog_stub(&ctx.env)?;
    let contract: Contract =
        decode(&call(&catalog, &CatalogCall::GetContract { id: id.clone(), now: ctx.now }).await?)?;
    if !matches!(contract.status, ContractStatus::Draft | ContractStatus::Expired) {
        return Err(ApiError::new(
            ErrorCode::ContractNotDraft,
            format!("the contract is {}; its document is final", contract.status.as_str()),
        ));
    }
    let (content_type, ext) = sniff_document(bytes).ok_or_else(|| {
        ApiError::new(ErrorCode::UnsupportedMediaType, "a document must be a PDF, PNG, JPEG, GIF or WebP file")
    })?;
    let document = Document {
        name: document_name(filename, ext),
        content_type: content_type.to_owned(),
        size: bytes.len() as u64,
        sha256: hex(&Sha256::digest(bytes)),
        uploaded_at: ctx.now,
    };
    let meta = HttpMetadata { content_type: Some(content_type.to_owned()), ..Default::default() };
    bucket(ctx)?
        .put(document.key(&id), bytes.to_vec())
        .http_metadata(meta)
        .execute()
        .await
        .map_err(|e| internal("storing the document in R2", e))?;
    call(&catalog, &CatalogCall::SetDocument { id, now: ctx.now, document }).await
}

/// `GET /v1/contracts/{id}/document`: the file, with its type and name.
pub async fn get_document(ctx: &Ctx, id: &str) -> Result<Reply, ApiError> {
    let id = contract_id(id)?;
    let contract: Contract =
        decode(&call(&catalog_stub(&ctx.env)?, &CatalogCall::GetContract { id: id.clone(), now: ctx.now }).await?)?;
    let none = || ApiError::new(ErrorCode::NotFound, "this contract has no document");
    let doc = contract.document.ok_or_else(none)?;
    let object = bucket(ctx)?
        .get(doc.key(&id))
        .execute()
        .await
        .map_err(|e| internal("reading the document from R2", e))?
        .ok_or_else(none)?;
    let body =
        object.body().ok_or_else(none)?.bytes().await.map_err(|e| internal("reading the document from R2", e))?;
    let mut reply = Reply::new(200, body);
    reply.headers.push(("content-type", doc.content_type.clone()));
    reply.headers.push(("content-disposition", format!("attachment; filename=\"{}\"", doc.name)));
    reply.headers.push(("x-content-type-options", "nosniff".to_owned()));
    Ok(reply)
}
