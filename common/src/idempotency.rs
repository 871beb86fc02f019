//! Incentives' record of bonus ids: where a repeated grant is recognised, in
//! every variant the same way.
//!
//! A client makes a grant safe to retry by sending its own `bonusId`. The id
//! is bound to the first request that used it — its courier and bonus type,
//! the request's *fingerprint* — for good:
//!
//! - the same id with the same request is a repeat: answered `202` like the
//!   first, and nothing is granted again;
//! - the same id with another courier or bonus type is a `409` naming the id,
//!   and nothing is granted;
//! - the same id while its first request is still running (only possible in
//!   the synchronous designs, where a grant is a call) is a `409` too: the
//!   client retries once it has an answer (Stripe's idempotency keys behave
//!   the same way).
//!
//! How a grant becomes *done* is where the designs differ. Asynchronously it
//! is done when it is recorded with its event ([`Grants::record`], inside the
//! outbox's transaction). Synchronously it is done when Payments has paid it,
//! or sync-buffered has kept it for resending ([`Grants::claim`] and
//! [`Claimed::done`]); a grant whose call failed is open again, and a retry
//! calls Payments again — whose ledger (`ledger.rs`) pays each bonus id once,
//! with the same fingerprint rule.
//!
//! In memory it stands for a database table, surviving every fault; on SQLite
//! storage it is loaded from, and written through to, a real one
//! (`records.rs`), which survives a `kill -9`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::api::{ApiError, Reference};
use crate::domain::{BonusType, CourierId, lock};

/// Every bonus id Incentives has seen, with the request that first used it.
#[derive(Debug, Default)]
pub struct Grants {
    by_id: Mutex<HashMap<Reference, Grant>>,
}

#[derive(Clone, Copy, Debug)]
struct Grant {
    courier: CourierId,
    bonus: BonusType,
    state: State,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Its first request (or a retry) is running.
    Running,
    /// Its last attempt failed: a retry may run it again.
    Open,
    /// Granted: a repeat is answered without doing anything.
    Done,
}

/// What [`Grants::claim`] found.
#[derive(Debug)]
pub enum Claim {
    /// Granted before: answer as the first time, do nothing.
    Repeat,
    /// To be done now, by the holder of this claim.
    ToDo(Claimed),
}

/// A grant being done. [`Claimed::done`] marks it granted; dropping it
/// without (the call failed, the worker stopped) opens it for a retry.
#[derive(Debug)]
pub struct Claimed {
    grants: Arc<Grants>,
    id: Reference,
    done: bool,
}

impl Grants {
    /// Records a grant done in one step. `Ok(true)`: the first time;
    /// `Ok(false)`: a repeat; `Err`: a conflict (`409`).
    pub fn record(
        &self,
        id: &Reference,
        courier: CourierId,
        bonus: BonusType,
    ) -> Result<bool, ApiError> {
        let mut by_id = lock(&self.by_id);
        match by_id.get(id) {
            None => {
                by_id.insert(id.clone(), Grant::new(courier, bonus, State::Done));
                Ok(true)
            }
            Some(grant) => grant.check(id, courier, bonus).map(|()| false),
        }
    }

    /// Claims a grant that takes a call to finish.
    pub fn claim(
        self: &Arc<Self>,
        id: &Reference,
        courier: CourierId,
        bonus: BonusType,
    ) -> Result<Claim, ApiError> {
        let mut by_id = lock(&self.by_id);
        let grant = by_id
            .entry(id.clone())
            .or_insert(Grant::new(courier, bonus, State::Open));
        grant.check(id, courier, bonus)?;
        match grant.state {
            State::Done => return Ok(Claim::Repeat),
            State::Running => {
                return Err(ApiError::conflict(format!(
                    "bonusId {:?} is being granted by an earlier request; retry when it has been answered",
                    id.as_str()
                )));
            }
            State::Open => grant.state = State::Running,
        }
        Ok(Claim::ToDo(Claimed {
            grants: self.clone(),
            id: id.clone(),
            done: false,
        }))
    }

    fn finish(&self, id: &Reference, state: State) {
        if let Some(grant) = lock(&self.by_id).get_mut(id) {
            grant.state = state;
        }
    }
}

impl Grant {
    fn new(courier: CourierId, bonus: BonusType, state: State) -> Grant {
        Grant {
            courier,
            bonus,
            state,
        }
    }

    /// `Err(409)` when this request is not the one that first used the id.
    fn check(&self, id: &Reference, courier: CourierId, bonus: BonusType) -> Result<(), ApiError> {
        if (self.courier, self.bonus) == (courier, bonus) {
            return Ok(());
        }
        Err(ApiError::conflict(format!(
            "bonusId {:?} was used before for courier {} and bonus type {}; \
             a reused key must repeat its first request exactly",
            id.as_str(),
            self.courier,
            serde_json::to_string(&self.bonus).unwrap_or_default(),
        )))
    }
}

impl Claimed {
    /// The grant is done: repeats are answered without a call.
    pub fn done(mut self) {
        self.done = true;
        self.grants.finish(&self.id, State::Done);
    }
}

impl Drop for Claimed {
    fn drop(&mut self) {
        if !self.done {
            self.grants.finish(&self.id, State::Open);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(text: &str) -> Reference {
        Reference::parse(text).unwrap()
    }

    #[test]
    fn recorded_grants_repeat_or_conflict() {
        let grants = Grants::default();
        assert_eq!(grants.record(&id("b-1"), 7, BonusType::Small), Ok(true));
        assert_eq!(grants.record(&id("b-1"), 7, BonusType::Small), Ok(false));
        let big = grants.record(&id("b-1"), 7, BonusType::Big).unwrap_err();
        assert_eq!(big.status.as_u16(), 409);
        assert!(big.message.contains("\"b-1\""), "{big}");
        assert!(grants.record(&id("b-1"), 8, BonusType::Small).is_err());
    }

    #[test]
    fn a_claim_is_done_or_opened_again() {
        let grants = Arc::new(Grants::default());
        let Ok(Claim::ToDo(first)) = grants.claim(&id("b-2"), 7, BonusType::Big) else {
            panic!("a new id is to do");
        };
        let running = grants.claim(&id("b-2"), 7, BonusType::Big).unwrap_err();
        assert_eq!(running.status.as_u16(), 409);
        drop(first); // the call failed
        let Ok(Claim::ToDo(retry)) = grants.claim(&id("b-2"), 7, BonusType::Big) else {
            panic!("a failed grant is open again");
        };
        retry.done();
        assert!(matches!(
            grants.claim(&id("b-2"), 7, BonusType::Big),
            Ok(Claim::Repeat)
        ));
        assert!(grants.claim(&id("b-2"), 7, BonusType::Small).is_err());
    }
}
