#!/usr/bin/env python3
"""Puts one-line bugs into `core`, one at a time, and checks that the customer machine's
property tests catch each (`core/tests/customer_machine_props.rs` lists them; those of
limits and reservations are caught by `core/tests/limit_props.rs`).

    python3 scripts/mutations.py            # every mutation
    python3 scripts/mutations.py 3 7        # only these

Each mutation is an exact text replacement in one file; the file is restored after its run,
whatever happens. A mutation that no test catches is reported as SURVIVED and the script
exits 1. About a minute per mutation on 2 cores.
"""

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
TEST = ["cargo", "test", "-q", "-p", "edgemeter-core", "--test", "customer_machine_props"]
# Credits and alerts' mutations run their own property tests (`core/tests/credit_props.rs`).
CREDIT_TEST = ["cargo", "test", "-q", "-p", "edgemeter-core", "--test", "credit_props"]
# Limits and reservations' run `core/tests/limit_props.rs`.
LIMIT_TEST = ["cargo", "test", "-q", "-p", "edgemeter-core", "--test", "limit_props"]

MUTATIONS = [
    ("invoice.finalized not queued", "core/src/book/invoicing.rs",
     'out.deliveries.push(webhook("invoice.finalized", inv, now));', ""),
    ("an event at a period's end counted in it", "core/src/period.rs",
     "self.start <= t && t < self.end", "self.start <= t && t <= self.end"),
    ("sum keeps the largest value", "core/src/aggregate.rs",
     "*total = total.checked_add(ev.value()).unwrap_or(Decimal::MAX);", "*total = (*total).max(ev.value());"),
    ("latest keeps the oldest event", "core/src/aggregate.rs",
     "(ev.timestamp(), ev.idempotency_key()) > (l.timestamp, l.idempotency_key.as_str())",
     "(ev.timestamp(), ev.idempotency_key()) < (l.timestamp, l.idempotency_key.as_str())"),
    ("final without the grace hours", "core/src/lifecycle.rs",
     "p.end.saturating_add_ms(s.grace_hours as i64 * HOUR_MS)", "p.end"),
    ("draft one day late", "core/src/lifecycle.rs",
     "p.end.saturating_add_ms(-(s.pre_generate_days as i64) * DAY_MS)",
     "p.end.saturating_add_ms(-(s.pre_generate_days as i64) * DAY_MS + DAY_MS)"),
    ("a volume price's flat amount charged at zero units", "core/src/pricing.rs",
     "Some(t) if !q.is_zero() => {", "Some(t) => {"),
    ("the minimum ignored", "core/src/pricing.rs",
     "let billed = match minimum {", "let billed = match None::<Exact> {"),
    ("the number of the next period given", "core/src/book/invoicing.rs",
     "input.numbers.iter().find(|(s, _)| *s == p)", "input.numbers.iter().find(|(s, _)| *s > p)"),
    ("a failed call keeps the book in memory", "core/src/machine/customer/mod.rs",
     "        if out.is_err() {\n            self.book = None;\n            self.credits = None;\n        }", ""),
    ("a void's recomputed aggregates not written", "core/src/machine/customer/usage.rs",
     "live.iter());\n                    store.write_states(&writes)?;", "live.iter());\n                    let _ = writes;"),
    ("no back-fill of a metric new to the book", "core/src/machine/customer/usage.rs",
     "for m in book.unseen(metrics)", "for m in book.unseen(&metrics[..0])"),
    ("every period's invoice gets the same id", "core/src/machine/customer/invoices.rs",
     ".chain_update(period_start.millis().to_be_bytes())", ""),
    ("invoice.sent not queued on approval", "core/src/machine/customer/invoices.rs",
     'let d = webhook("invoice.sent", &inv, now);\n            store.enqueue(&d.id, &d.body, now)?;',
     'let _ = webhook("invoice.sent", &inv, now);'),
    ("events compacted without the late window", "core/src/machine/customer/invoices.rs",
     "store.compact(closed, now.saturating_add_ms(-LATE_WINDOW_MS))?;", "store.compact(closed, now)?;"),
    ("payers ordered by priority only", "core/src/credit.rs",
     "(a.priority, expiry(a), a.created_at, &a.id).cmp(&(b.priority, expiry(b), b.created_at, &b.id))",
     "a.priority.cmp(&b.priority)", CREDIT_TEST),
    ("a grant expiring at the period's end does not pay it", "core/src/credit.rs",
     "self.expires_at.is_none_or(|e| e >= period_end)", "self.expires_at.is_none_or(|e| e > period_end)", CREDIT_TEST),
    ("a voided invoice gives back to a voided grant", "core/src/credit.rs",
     "if g.voided_at.is_some() || g.expires_at.is_some_and(|e| e <= now) {",
     "if g.expires_at.is_some_and(|e| e <= now) {", CREDIT_TEST),
    ("a failed call keeps the grants and alerts in memory", "core/src/machine/customer/mod.rs",
     "            self.credits = None;\n", "", CREDIT_TEST),
    ("a usage or spend alert fires twice in a period", "core/src/alert.rs",
     "obs.value >= self.threshold && !self.fired.contains(&obs.period.start)", "obs.value >= self.threshold",
     CREDIT_TEST),
    # Limits and reservations: caught by limit_props.rs (the test file is the fifth item).
    ("a hold never expires", "core/src/book/limits.rs",
     "self.holds.retain(|_, r| r.holds_at(now));", "let _ = now;", LIMIT_TEST),
    ("the hard check ignores the live holds", "core/src/book/limits.rs",
     "AggState::quantity) + self.limits.reserved(code, period_start);", "AggState::quantity);",
     LIMIT_TEST),
    ("a commit's event is decided with its own hold still counted", "core/src/machine/customer/limits.rs",
     "book.limits_mut().unhold(&reservation.id);\n        let key", "let key", LIMIT_TEST),
]


def run(index, name, path, old, new, test=TEST):
    file = ROOT / path
    original = file.read_text()
    if original.count(old) != 1:
        print(f"{index:2} {name}: the text to change is not in {path} exactly once")
        return False
    # proptest saves the failing cases of a mutated core; they are no regressions of ours.
    saved = ROOT / f"core/tests/{test[-1]}.proptest-regressions"
    existed = saved.exists()
    try:
        file.write_text(original.replace(old, new))
        result = subprocess.run(test, cwd=ROOT, capture_output=True, text=True)
    finally:
        file.write_text(original)
        if not existed:
            saved.unlink(missing_ok=True)
    caught = result.returncode != 0
    failed = [l.split()[1] for l in result.stdout.splitlines() if l.startswith("---- ") and l.endswith(" stdout ----")]
    print(f"{index:2} {name}: {'caught by ' + ', '.join(failed or ['the build']) if caught else 'SURVIVED'}", flush=True)
    return caught


def main():
    chosen = {int(a) for a in sys.argv[1:]}
    ok = True
    for i, m in enumerate(MUTATIONS, 1):
        if not chosen or i in chosen:
            ok &= run(i, *m)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
