//! Invoice digests (API.md, "Checking an invoice"): what ties an invoice to the events it
//! counted, so the customer it bills can check it from the events themselves.
//!
//! Definitions, precise enough to recompute in any language:
//!
//! - An event's **content hash** is [`crate::hash::content_hash`], rendered as 32
//!   lower-case hex digits (`content_hash` on `GET /v1/invoices/{id}/events`); its bytes are
//!   those 32 hex digits decoded, 16 bytes, most significant first.
//! - A usage line's **`events_digest`** is the lower-case hex SHA-256 of the concatenated
//!   16-byte content hashes of the live events the line's metric counted in the period
//!   (its event name and every filter match), sorted in ascending byte order, duplicates
//!   kept (two events with equal content under different keys both count). A line that
//!   counted no event has the SHA-256 of nothing, `e3b0c442…b855`.
//! - An invoice's **`usage_digest`** is the lower-case hex SHA-256 of its usage lines'
//!   `events_digest`s, each as its 32 bytes (the hex decoded), in line order; fixed lines
//!   have no usage and add nothing.
//!
//! The invoicing run computes them, with each line's first and last event time, in one
//! pass over the period's events ([`Scanner`]), which replaced its query of each event
//! name's first and last event.

use crate::event::EventRecord;
use crate::hash::ContentHash;
use crate::invoice::InvoiceLine;
use crate::metric::MetricDef;
use crate::time::Timestamp;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The `events_digest` of a line that counted these events' hashes, in any order.
pub fn events_digest(mut hashes: Vec<ContentHash>) -> String {
    // The u128's numeric order is the order of its big-endian bytes.
    hashes.sort_unstable();
    let mut h = Sha256::new();
    for c in &hashes {
        h.update(c.0.to_be_bytes());
    }
    hex(&h.finalize())
}

/// The `usage_digest` of an invoice whose usage lines have these `events_digest`s, in line
/// order. A digest that is not 64 hex digits is hashed as its text (it cannot come from
/// [`events_digest`]; the result then matches no honest invoice).
pub fn usage_digest<'a>(line_digests: impl IntoIterator<Item = &'a str>) -> String {
    let mut h = Sha256::new();
    for d in line_digests {
        match unhex32(d) {
            Some(bytes) => h.update(bytes),
            None => h.update(d.as_bytes()),
        }
    }
    hex(&h.finalize())
}

/// Whether a metric counts a stored event: the same rule as aggregation
/// ([`MetricDef::matches`]).
pub fn counts(metric: &MetricDef, ev: &EventRecord<'_>) -> bool {
    metric.event_name == ev.event_name
        && metric
            .filters
            .iter()
            .all(|(prop, allowed)| ev.props.get(prop).is_some_and(|v| allowed.iter().any(|a| a == v.as_text())))
}

/// What one metric counted in a period, from one pass over its events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricScan {
    pub events_digest: String,
    /// The first and last counted event's time (`None` when it counted none).
    pub first: Option<Timestamp>,
    pub last: Option<Timestamp>,
}

/// One pass over a period's live events: each metric's `events_digest` and the times of
/// its first and last counted event, by metric code.
pub type PeriodScan = BTreeMap<String, MetricScan>;

/// Scans the live events of one period (any order) for `metrics`.
pub fn scan<'e, 'a: 'e>(metrics: &[MetricDef], events: impl IntoIterator<Item = &'e EventRecord<'a>>) -> PeriodScan {
    let mut s = Scanner::new(metrics);
    for ev in events {
        s.add(ev);
    }
    s.finish()
}

/// A [`PeriodScan`] fed in chunks, so a period's events need not be in memory at once:
/// it keeps 16 bytes per counted event (the hashes the digest sorts).
pub struct Scanner<'m> {
    metrics: &'m [MetricDef],
    hashes: Vec<Vec<ContentHash>>,
    spans: Vec<Option<(i64, i64)>>,
}

impl<'m> Scanner<'m> {
    pub fn new(metrics: &'m [MetricDef]) -> Scanner<'m> {
        Scanner { metrics, hashes: vec![Vec::new(); metrics.len()], spans: vec![None; metrics.len()] }
    }

    /// Adds one live event of the period.
    pub fn add(&mut self, ev: &EventRecord<'_>) {
        for (i, m) in self.metrics.iter().enumerate() {
            if counts(m, ev) {
                self.hashes[i].push(ev.hash);
                let s = self.spans[i].get_or_insert((ev.ts, ev.ts));
                *s = (s.0.min(ev.ts), s.1.max(ev.ts));
            }
        }
    }

    pub fn finish(self) -> PeriodScan {
        self.metrics
            .iter()
            .zip(self.hashes)
            .zip(self.spans)
            .map(|((m, h), span)| {
                let scan = MetricScan {
                    events_digest: events_digest(h),
                    first: span.map(|s| Timestamp(s.0)),
                    last: span.map(|s| Timestamp(s.1)),
                };
                (m.code.clone(), scan)
            })
            .collect()
    }
}

/// Gives every usage line its `events_digest` from `digests` (by metric code; a metric
/// absent from it counted nothing) and returns the invoice's `usage_digest`.
pub fn stamp_lines(lines: &mut [InvoiceLine], scan: &PeriodScan) -> String {
    for u in lines.iter_mut().filter_map(|l| l.usage.as_mut()) {
        let digest = scan.get(&u.metric_code).map(|m| m.events_digest.clone());
        u.events_digest = Some(digest.unwrap_or_else(|| events_digest(Vec::new())));
    }
    usage_digest(lines.iter().filter_map(|l| l.usage.as_ref().and_then(|u| u.events_digest.as_deref())))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn unhex32(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Known answers, computed outside Rust (`printf … | xxd -r -p | sha256sum`), so the
    /// definition in the module docs and the code cannot drift apart together.
    #[test]
    fn digests_match_their_definition() {
        assert_eq!(events_digest(vec![]), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        let a = ContentHash(0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10);
        let b = ContentHash(0xff00_0000_0000_0000_0000_0000_0000_0001);
        let ab = events_digest(vec![b, a]);
        assert_eq!(ab, events_digest(vec![a, b]), "order-free");
        assert_eq!(ab, "f5163e07250fabbff7f2df8652d93cc3ddfffa2c3967c4de2ef20bb2e91e80aa");
        assert_ne!(events_digest(vec![a, a]), events_digest(vec![a]), "duplicates count");
        let u = usage_digest([ab.as_str()]);
        assert_eq!(u, "979ab5dc6847e5af7411be82f464020ff90c159c61fb8a32d681a12956ecb3de");
        assert_ne!(u, usage_digest([ab.as_str(), ab.as_str()]));
    }
}
