//! The money sentences of the narrative: what each variant lost, paid twice,
//! under-paid, paid from a stale performance, repriced or paid though it had
//! refused, what it refused outright, and how its payouts compare with what it
//! owed.
//!
//! Money is where the two designs fail differently: the synchronous design's
//! failures mostly show as refusals (the client knows), the asynchronous
//! design's as late or stale payments (the client does not), and the buffered
//! workaround's as repriced ones (a resend looks the performance up again).
//! Each defect gets a sentence only for the variants whose count is above
//! zero; the defects no variant had are named together in one sentence, so a
//! clean run says so. Where a variant's payouts differ from what it owed and
//! exactly one defect can account for it, the totals sentence says which.
//! Part of [`super::narrative`].

use super::facts;
use super::format::{self, join_and, plural};
use super::narrative::bold;
use crate::results::{MoneyOutcome, ScenarioResults, VariantResults};

/// What a money figure means, for a sentence.
struct Defect {
    field: fn(&MoneyOutcome) -> u64,
    /// "{variant} lost 12 bonuses": `{n}` is replaced by the counts.
    template: &'static str,
    /// Said once after the variants that have it.
    why: &'static str,
    /// "No variant lost an accepted request."
    none: &'static str,
    /// "(−18.00, all of it from {its repriced payouts})": where the money went
    /// when this is the variant's only defect.
    source: &'static str,
}

/// Every class of request reconciliation can find wrong. Together they are the
/// whole of `paid − owed`: a request that is right is priced in `owed`
/// at exactly what was paid for it (see `crate::reconcile`).
const DEFECTS: [Defect; 7] = [
    Defect {
        field: |m| m.lost,
        template: "lost {n}",
        why: "accepted (answered 2xx) but never paid",
        none: "lost an accepted request",
        source: "the accepted requests it never paid",
    },
    Defect {
        field: |m| m.paid_twice,
        template: "paid {n} twice",
        why: "the same request paid more than once",
        none: "paid a request twice",
        source: "the requests it paid twice",
    },
    Defect {
        field: |m| m.under_paid,
        template: "under-paid {n}",
        why: "paid with the +0 % fallback while the courier's incentive was higher (the \
              reference code's silent default when it cannot learn the performance)",
        none: "under-paid one",
        source: "its under-paid requests",
    },
    Defect {
        field: |m| m.stale,
        template: "paid {n} from a stale performance",
        why: "paid with a performance the courier no longer had",
        none: "paid one from a stale performance",
        source: "its payouts from a stale performance",
    },
    Defect {
        field: |m| m.repriced,
        template: "repriced {n}",
        why: "paid late, at a performance the courier only got after the request was \
              answered: the performance was looked up when the payout was finally made, not \
              when the request was accepted",
        none: "repriced one",
        source: "its repriced payouts",
    },
    Defect {
        field: |m| m.paid_though_rejected,
        template: "paid {n} it had rejected",
        why: "the client was told it failed, yet the money went out: a timeout is not a no",
        none: "paid one it had rejected",
        source: "the requests it paid though it had rejected them",
    },
    Defect {
        field: |m| m.wrong_payout,
        template: "made {n} wrong payouts",
        why: "paid to another courier, or for another amount, than the request asked",
        none: "made a wrong payout",
        source: "its wrong payouts",
    },
];

/// The money sentences, in the order of [`DEFECTS`], then refusals and totals.
pub fn sentences(results: &ScenarioResults) -> Vec<String> {
    let variants = facts::ordered(results);
    let mut out = defects(&variants);
    out.extend(refusals(&variants));
    out.extend(totals(&variants));
    out
}

/// One sentence per defect some variant had, then one for those none had.
fn defects(variants: &[&VariantResults]) -> Vec<String> {
    let mut out = Vec::new();
    let mut clean = Vec::new();
    for defect in &DEFECTS {
        let mut found = Vec::new();
        for v in variants {
            let kinds = [
                ("bonus", "bonuses", &v.bonuses),
                ("delivery", "deliveries", &v.deliveries),
            ];
            let parts: Vec<String> = kinds
                .iter()
                .filter(|(_, _, m)| (defect.field)(m) > 0)
                .map(|(one, many, m)| plural((defect.field)(m), one, many))
                .collect();
            if !parts.is_empty() {
                found.push(format!(
                    "{} {}",
                    bold(&v.variant),
                    defect.template.replace("{n}", &join_and(&parts))
                ));
            }
        }
        if found.is_empty() {
            clean.push(defect.none.to_string());
        } else {
            out.push(format!(
                "{} — {}.",
                format::capitalise(&found.join("; ")),
                defect.why
            ));
        }
    }
    if !clean.is_empty() {
        out.push(format!("No variant {}.", join_or(&clean)));
    }
    out
}

/// What each variant refused over the run, if any refused anything.
fn refusals(variants: &[&VariantResults]) -> Option<String> {
    let mut refused = Vec::new();
    for v in variants {
        let parts: Vec<String> = [
            (v.bonuses.rejected, "bonus request", "bonus requests"),
            (v.deliveries.rejected, "delivery", "deliveries"),
        ]
        .iter()
        .filter(|(n, _, _)| *n > 0)
        .map(|&(n, one, many)| plural(n, one, many))
        .collect();
        if !parts.is_empty() {
            refused.push(format!("{} {}", bold(&v.variant), join_and(&parts)));
        }
    }
    (!refused.is_empty()).then(|| {
        format!(
            "Refused over the whole run: {}. The clients were told, so none of it counts as \
             lost — but that work was not done and must be asked for again.",
            refused.join("; ")
        )
    })
}

/// Paid against owed: every variant exact, or each one that was not.
fn totals(variants: &[&VariantResults]) -> Option<String> {
    let off: Vec<String> = variants
        .iter()
        .filter(|v| v.money.paid != v.money.owed)
        .map(|v| {
            let source =
                sole_defect(v).map_or(String::new(), |d| format!(", all of it from {}", d.source));
            format!(
                "{} paid {} against {} owed for what it accepted ({}{source})",
                bold(&v.variant),
                format::money(v.money.paid),
                format::money(v.money.owed),
                format::money_difference(v.money.paid, v.money.owed)
            )
        })
        .collect();
    if variants.is_empty() {
        return None;
    }
    if off.is_empty() {
        let paid: Vec<String> = variants
            .iter()
            .map(|v| format!("{} {}", bold(&v.variant), format::money(v.money.paid)))
            .collect();
        return Some(format!(
            "Every variant paid exactly what it owed for the work it accepted ({}).",
            paid.join(", ")
        ));
    }
    let exact: Vec<String> = variants
        .iter()
        .filter(|v| v.money.paid == v.money.owed)
        .map(|v| bold(&v.variant))
        .collect();
    let rest = match exact.len() {
        0 => String::new(),
        1 => format!("; {} paid exactly what it owed", exact[0]),
        _ => format!("; {} paid exactly what they owed", join_and(&exact)),
    };
    Some(format!("{}{rest}.", off.join("; ")))
}

/// The one defect `v` had, in bonuses or deliveries, when it had exactly one
/// kind: then that defect is the whole of `paid − owed`, and the report
/// may say so. With two or more, how the difference splits between them is not
/// measured, so nothing is attributed.
fn sole_defect(v: &VariantResults) -> Option<&'static Defect> {
    let mut had = DEFECTS
        .iter()
        .filter(|d| (d.field)(&v.bonuses) + (d.field)(&v.deliveries) > 0);
    match (had.next(), had.next()) {
        (Some(only), None) => Some(only),
        _ => None,
    }
}

/// `a`, `a or b`, `a, b, or c`.
fn join_or(items: &[String]) -> String {
    match items {
        [init @ .., last] if !init.is_empty() => format!("{}, or {last}", init.join(", ")),
        _ => items.join(""),
    }
}
