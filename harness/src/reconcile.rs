//! Money reconciliation: after the drain, every payout is matched to the
//! request that asked for it, by reference (`b-17`, `d-42`), and checked
//! against what the harness knows it asked for.
//!
//! The harness is the only client, so it knows the truth: which requests were
//! accepted, and which performance each courier had at every moment — the
//! latest update *acknowledged* before a request was sent. What it cannot know
//! is the order of updates that were in flight together: two updates to one
//! courier sent microseconds apart may be applied in one order and answered in
//! the other. So a value counts as possible for a request unless an update that
//! *began after that value's update was acknowledged* was itself acknowledged
//! before the request was sent (the rule that checks a register for
//! linearizability). That makes acceptable: the latest acknowledged value, any
//! update in flight around the request, any update racing with those, and any
//! value an unanswered update might have set.
//!
//! A payout must also be the one asked for: to the request's courier, for the
//! amount it asked. One that is not counts as `wrong_payout`, whatever its
//! performance; a payout whose reference no request sent counts in
//! `money.unmatched_payouts`; more than one payout for a reference is
//! `paid_twice`.
//!
//! Each other paid, accepted request then falls in exactly one class: right, or
//! - `under_paid`: paid through the +0 % fallback while its incentive was higher;
//! - `stale`: paid with a performance the courier no longer had (a cached copy
//!   that had not caught up);
//! - `repriced`: paid after its answer, with a performance the courier got only
//!   after the request (a resend that looked performance up again).
//!
//! Two sums price the accepted requests:
//! - `money.owed`: what each was owed at a performance it could rightly have
//!   been paid at — the performance it was paid with where that one was
//!   acceptable, else its true performance when it was sent. So in a run where
//!   nothing went wrong `money.paid == money.owed` to the cent. Where several
//!   values were acceptable, variants may rightly differ by a few cents.
//! - `money.owed_at_send`: each priced at its courier's true performance when
//!   it was sent (the latest acknowledged update), whatever it was paid with:
//!   one rule for every variant, to compare them on one number.
//!
//! An update that got no answer may have been applied at any time until the
//! client gave up on it ([`crate::load::CLIENT_TIMEOUT`]): after that, an
//! acknowledged update sent later overwrites it. (A request the client gave up
//! on is dropped by the edge with its connection, so it cannot apply later.)

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use common::api::{Payout, PayoutKind, PayoutsView, PerformanceSource};
use common::domain::adjusted_amount;
use common::{BASE_DELIVERY_PAY, CourierId, Money, Performance};
use reqwest::Client;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::load::{NoAnswer, Outcome, Record};
use crate::measure::{new_histogram, percentiles_ms};
use crate::results::{MoneyOutcome, MoneySecond, MoneyTotals, Percentiles};
use crate::schedule::{Action, Request};

/// Fetching payouts: attempts per courier and the pause between them. Payments
/// has just been healed and may still be binding its socket again.
const FETCH_ATTEMPTS: usize = 20;
const FETCH_RETRY_PAUSE: Duration = Duration::from_millis(100);
const FETCH_CONCURRENCY: usize = 8;

/// How long after it was sent an unanswered update may still take effect:
/// the load generator's client timeout, after which it gives up and closes
/// the connection.
const UNANSWERED_WINDOW_US: u64 = crate::load::CLIENT_TIMEOUT.as_micros() as u64;

/// What reconciliation found.
#[derive(Debug, Default)]
pub struct Reconciled {
    pub bonuses: MoneyOutcome,
    pub deliveries: MoneyOutcome,
    pub money: MoneyTotals,
    pub bonus_to_paid_ms: Percentiles,
    /// Payout rows read from Payments.
    pub rows: u64,
    /// Of `rows`, those matched to a request; the rest are
    /// `money.unmatched_payouts`.
    pub matched_rows: u64,
    /// The defects of `bonuses` and `deliveries` per second, each counted in
    /// the second its request was *scheduled* (the time of the request that
    /// caused it, not of the payout): a bonus granted during an outage and
    /// paid wrong after it shows under the outage. One entry per second from
    /// t = 0 to the last scheduled request, zeros included.
    pub series: Vec<MoneySecond>,
}

/// `GET /payments/{courier}` for every courier.
pub async fn fetch_payouts(
    client: &Client,
    payments: SocketAddr,
    couriers: u64,
) -> Result<Vec<PayoutsView>, String> {
    let permits = Arc::new(Semaphore::new(FETCH_CONCURRENCY));
    let mut tasks = JoinSet::new();
    for courier in 1..=couriers {
        let (client, permits) = (client.clone(), permits.clone());
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            let url = format!("http://{payments}/payments/{courier}");
            let mut last = String::new();
            for _ in 0..FETCH_ATTEMPTS {
                match client.get(&url).send().await {
                    Ok(r) if r.status().is_success() => match r.json::<PayoutsView>().await {
                        Ok(view) => return Ok(view),
                        Err(e) => last = e.to_string(),
                    },
                    Ok(r) => last = format!("answered {}", r.status()),
                    Err(e) => last = e.to_string(),
                }
                tokio::time::sleep(FETCH_RETRY_PAUSE).await;
            }
            Err(format!(
                "reading courier {courier}'s payouts failed: {last}"
            ))
        });
    }
    let mut views = Vec::new();
    while let Some(result) = tasks.join_next().await {
        views.push(result.map_err(|e| e.to_string())??);
    }
    views.sort_by_key(|v| v.courier_id);
    Ok(views)
}

/// Matches `payouts` to the requests. `t0_wall_us` is t = 0 on the ledger's
/// clock (`common::ledger::unix_us_at`).
pub fn reconcile(
    setup: &[(CourierId, Performance)],
    requests: &[Request],
    records: &[Option<Record>],
    payouts: &[PayoutsView],
    t0_wall_us: u64,
) -> Reconciled {
    let history = History::build(setup, requests, records);
    let mut by_reference: HashMap<(PayoutKind, &str), Vec<(CourierId, &Payout)>> = HashMap::new();
    let mut result = Reconciled::default();
    for view in payouts {
        result.money.paid = result
            .money
            .paid
            .checked_add(view.total)
            .unwrap_or(result.money.paid);
        for payout in &view.payouts {
            result.rows += 1;
            by_reference
                .entry((payout.kind, payout.reference.as_str()))
                .or_default()
                .push((view.courier_id, payout));
        }
    }
    let mut to_paid = new_histogram();
    let last_s = requests.last().map_or(0, |r| r.at_us / 1_000_000);
    result.series = (0..=last_s)
        .map(|t_s| MoneySecond {
            t_s,
            ..MoneySecond::default()
        })
        .collect();
    for (request, record) in requests.iter().zip(records) {
        let Some(record) = record else { continue };
        let (kind, id, asked) = match &request.action {
            Action::Bonus { bonus, id } => (PayoutKind::Bonus, id, bonus.amount()),
            Action::Delivery { id } => (PayoutKind::Delivery, id, BASE_DELIVERY_PAY),
            Action::Performance { .. } => continue,
        };
        let found = by_reference
            .remove(&(kind, id.as_str()))
            .unwrap_or_default();
        result.matched_rows += found.len() as u64;
        let outcome = match kind {
            PayoutKind::Bonus => &mut result.bonuses,
            PayoutKind::Delivery => &mut result.deliveries,
        };
        let before = *outcome;
        let judge = Judge {
            history: &history,
            t0_wall_us,
            request,
            record,
            asked,
        };
        let paid_after_us = judge.judge(&found, outcome, &mut result.money);
        if let (PayoutKind::Bonus, Some(us)) = (kind, paid_after_us) {
            to_paid.saturating_record(us.max(1));
        }
        if let Some(second) = result.series.get_mut((request.at_us / 1_000_000) as usize) {
            second.add(&before, outcome);
        }
    }
    result.money.unmatched_payouts = by_reference.values().map(|v| v.len() as u64).sum();
    result.bonus_to_paid_ms = percentiles_ms(&to_paid);
    result
}

/// One sent request, judged against its payouts.
struct Judge<'a> {
    history: &'a History,
    t0_wall_us: u64,
    request: &'a Request,
    record: &'a Record,
    /// The amount the request asked for.
    asked: Money,
}

impl Judge<'_> {
    /// Counts the request in `outcome` and prices it in `money`; returns, for
    /// an accepted request that was paid, microseconds from its send time to
    /// its payout on the ledger's clock (for both designs: sync pays before it
    /// answers, async after).
    fn judge(
        &self,
        found: &[(CourierId, &Payout)],
        outcome: &mut MoneyOutcome,
        money: &mut MoneyTotals,
    ) -> Option<u64> {
        let (request, record, asked) = (self.request, self.record, self.asked);
        // The payout must be the one asked for: to this courier, this amount.
        let wrong = found
            .iter()
            .any(|&(courier, p)| courier != request.courier || p.amount_asked != asked);
        outcome.paid_twice += u64::from(found.len() > 1);
        outcome.wrong_payout += u64::from(wrong);
        outcome.paid += u64::from(!found.is_empty());
        if !record.is_success() {
            outcome.rejected += 1;
            outcome.paid_though_rejected += u64::from(!found.is_empty());
            return None;
        }
        outcome.accepted += 1;
        let truth = self.history.truth(request.courier, record.sent_us);
        let price = |p: Performance| adjusted_amount(asked, p).unwrap_or(Money::ZERO);
        let owe =
            |sum: &mut Money, p: Performance| *sum = sum.checked_add(price(p)).unwrap_or(*sum);
        owe(&mut money.owed_at_send, truth);
        let Some(&(_, payout)) = found.first() else {
            outcome.lost += 1;
            owe(&mut money.owed, truth);
            return None;
        };
        let sent_wall_us = self.t0_wall_us + record.sent_us;
        let paid_after_us = payout.paid_at_us.saturating_sub(sent_wall_us);
        let acceptable = self
            .history
            .acceptable(request.courier, record.sent_us, record.done_us);
        if !wrong && acceptable.contains(&payout.performance) {
            owe(&mut money.owed, payout.performance);
            return Some(paid_after_us);
        }
        owe(&mut money.owed, truth);
        if wrong {
            return Some(paid_after_us);
        }
        let answered_wall_us = self.t0_wall_us + record.done_us;
        if payout.performance_source == PerformanceSource::Fallback {
            outcome.under_paid += 1;
        } else if payout.paid_at_us > answered_wall_us
            && self
                .history
                .set_after(request.courier, record.done_us)
                .contains(&payout.performance)
        {
            outcome.repriced += 1;
        } else {
            outcome.stale += 1;
        }
        Some(paid_after_us)
    }
}

impl MoneySecond {
    /// Adds what one request added to a money outcome (`after` − `before`).
    fn add(&mut self, before: &MoneyOutcome, after: &MoneyOutcome) {
        self.lost += after.lost - before.lost;
        self.paid_twice += after.paid_twice - before.paid_twice;
        self.under_paid += after.under_paid - before.under_paid;
        self.stale += after.stale - before.stale;
        self.repriced += after.repriced - before.repriced;
        self.paid_though_rejected += after.paid_though_rejected - before.paid_though_rejected;
    }
}

/// Every performance update of the run, per courier.
struct History {
    by_courier: HashMap<CourierId, Vec<Update>>,
}

struct Update {
    sent_us: u64,
    state: UpdateState,
    value: Performance,
}

enum UpdateState {
    /// Answered 2xx at this time: applied.
    Acked(u64),
    /// Refused with an error status, or never sent: not applied.
    Refused,
    /// No answer: it may have been applied, at any time after it was sent.
    Unknown,
}

impl History {
    fn build(
        setup: &[(CourierId, Performance)],
        requests: &[Request],
        records: &[Option<Record>],
    ) -> History {
        let mut by_courier: HashMap<CourierId, Vec<Update>> = HashMap::new();
        for &(courier, value) in setup {
            // Acknowledged before t = 0.
            let update = Update {
                sent_us: 0,
                state: UpdateState::Acked(0),
                value,
            };
            by_courier.entry(courier).or_default().push(update);
        }
        for (request, record) in requests.iter().zip(records) {
            let (Action::Performance { performance }, Some(record)) = (&request.action, record)
            else {
                continue;
            };
            let state = match record.outcome {
                _ if record.is_success() => UpdateState::Acked(record.done_us),
                Outcome::Status(_) | Outcome::NoAnswer(NoAnswer::OverCap | NoAnswer::Refused) => {
                    UpdateState::Refused
                }
                Outcome::NoAnswer(
                    NoAnswer::TimedOut | NoAnswer::Broken | NoAnswer::Interrupted,
                ) => UpdateState::Unknown,
            };
            let update = Update {
                sent_us: record.sent_us,
                state,
                value: *performance,
            };
            by_courier.entry(request.courier).or_default().push(update);
        }
        History { by_courier }
    }

    fn updates(&self, courier: CourierId) -> &[Update] {
        self.by_courier.get(&courier).map_or(&[], Vec::as_slice)
    }

    /// The latest update acknowledged at or before `at_us`.
    fn truth(&self, courier: CourierId, at_us: u64) -> Performance {
        self.updates(courier)
            .iter()
            .filter_map(|u| match u.state {
                UpdateState::Acked(acked) if acked <= at_us => Some((acked, u.sent_us, u.value)),
                _ => None,
            })
            .max_by_key(|&(acked, sent, _)| (acked, sent))
            .map_or(Performance::default(), |(_, _, value)| value)
    }

    /// Every value the courier may have had while a request sent at `sent_us`
    /// and answered at `done_us` was being served: every update begun by
    /// `done_us` and not certainly overwritten by `sent_us`.
    fn acceptable(&self, courier: CourierId, sent_us: u64, done_us: u64) -> Vec<Performance> {
        let updates = self.updates(courier);
        // `w` certainly comes after `u` if it began once `u` was acknowledged.
        let overwritten_before = |u: &Update, at_us: u64| {
            let u_settled = match u.state {
                UpdateState::Acked(acked) => acked,
                // Unanswered: it may take effect until its client gave up.
                UpdateState::Unknown => u.sent_us + UNANSWERED_WINDOW_US,
                UpdateState::Refused => return true,
            };
            updates.iter().any(|w| {
                !std::ptr::eq(w, u)
                    && w.sent_us >= u_settled
                    && matches!(w.state, UpdateState::Acked(w_acked) if w_acked < at_us)
            })
        };
        updates
            .iter()
            .filter(|u| !matches!(u.state, UpdateState::Refused))
            .filter(|u| u.sent_us <= done_us && !overwritten_before(u, sent_us))
            .map(|u| u.value)
            .collect()
    }

    /// Values the courier was given by updates sent after `after_us`.
    fn set_after(&self, courier: CourierId, after_us: u64) -> Vec<Performance> {
        self.updates(courier)
            .iter()
            .filter(|u| u.sent_us > after_us && !matches!(u.state, UpdateState::Refused))
            .map(|u| u.value)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history(updates: Vec<Update>) -> History {
        History {
            by_courier: HashMap::from([(7, updates)]),
        }
    }

    fn acked(sent_us: u64, acked_us: u64, value: Performance) -> Update {
        let state = UpdateState::Acked(acked_us);
        Update {
            sent_us,
            state,
            value,
        }
    }

    fn setup(value: Performance) -> Update {
        acked(0, 0, value)
    }

    #[test]
    fn a_later_update_overwrites_an_earlier_one() {
        let h = history(vec![
            setup(Performance::Outstanding),
            acked(100, 200, Performance::High),
        ]);
        assert_eq!(h.truth(7, 300), Performance::High);
        assert_eq!(h.acceptable(7, 300, 400), [Performance::High]);
        // In flight while the request was served: both values possible.
        let during = h.acceptable(7, 150, 400);
        assert!(during.contains(&Performance::High) && during.contains(&Performance::Outstanding));
    }

    /// Two updates in flight together may be applied in one order and answered
    /// in the other (seen in the overload scenario): neither can be ruled out
    /// until an update that began after both were answered has been answered.
    #[test]
    fn racing_updates_leave_both_values_possible() {
        // HIGH was sent first and answered last; the server may have applied
        // either last.
        let racing = || {
            vec![
                setup(Performance::Outstanding),
                acked(100, 300, Performance::High),
                acked(110, 290, Performance::Normal),
            ]
        };
        let after = history(racing()).acceptable(7, 1_000, 1_100);
        assert!(after.contains(&Performance::High) && after.contains(&Performance::Normal));
        assert!(!after.contains(&Performance::Outstanding));

        let mut settled = racing();
        settled.push(acked(400, 500, Performance::High));
        assert_eq!(
            history(settled).acceptable(7, 1_000, 1_100),
            [Performance::High]
        );
    }

    #[test]
    fn an_unanswered_update_may_have_taken_effect_and_a_refused_one_did_not() {
        let h = history(vec![
            setup(Performance::Outstanding),
            Update {
                sent_us: 100,
                state: UpdateState::Unknown,
                value: Performance::Normal,
            },
            Update {
                sent_us: 120,
                state: UpdateState::Refused,
                value: Performance::High,
            },
        ]);
        let values = h.acceptable(7, 1_000, 1_100);
        assert!(
            values.contains(&Performance::Normal) && values.contains(&Performance::Outstanding)
        );
        assert!(!values.contains(&Performance::High));
        assert_eq!(h.truth(7, 1_000), Performance::Outstanding);
    }

    #[test]
    fn an_unanswered_update_stops_being_possible_once_its_client_gave_up() {
        let after = 100 + UNANSWERED_WINDOW_US;
        let h = history(vec![
            setup(Performance::Outstanding),
            Update {
                sent_us: 100,
                state: UpdateState::Unknown,
                value: Performance::Normal,
            },
            // Sent after the unanswered one's client gave up, and answered.
            acked(after + 10, after + 20, Performance::High),
        ]);
        assert_eq!(
            h.acceptable(7, after + 1_000, after + 1_100),
            [Performance::High]
        );
        // Sent inside the window: the unanswered one may still apply after it.
        let h = history(vec![
            setup(Performance::Outstanding),
            Update {
                sent_us: 100,
                state: UpdateState::Unknown,
                value: Performance::Normal,
            },
            acked(200, 300, Performance::High),
        ]);
        assert!(h.acceptable(7, 1_000, 1_100).contains(&Performance::Normal));
    }
}
