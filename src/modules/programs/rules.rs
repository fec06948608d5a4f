//! The rules of a member's progress through a program, apart from the database: an item's
//! status and percentage from its credits, the enrollment's percentage (the mean over the
//! required items), where the member stands among the phases, and whether the program is done.

use rust_decimal::Decimal;
use uuid::Uuid;

crate::words! {
    /// Where one item of an enrollment stands: by its credits (not started, in progress,
    /// completed) or by an officer's decision (verified, waived).
    pub enum ItemStatus {
        NotStarted = "not_started",
        InProgress = "in_progress",
        Completed = "completed",
        Verified = "verified",
        Waived = "waived",
    }
}

impl ItemStatus {
    /// Counts as done for the phase and the program.
    pub fn done(self) -> bool {
        matches!(
            self,
            ItemStatus::Completed | ItemStatus::Verified | ItemStatus::Waived
        )
    }
}

/// An officer's decision on an item stays until cleared; otherwise the credits decide.
pub fn item_status(stored: ItemStatus, value: Decimal, target: Decimal) -> ItemStatus {
    match stored {
        ItemStatus::Verified | ItemStatus::Waived => stored,
        _ if value >= target => ItemStatus::Completed,
        _ if value > Decimal::ZERO => ItemStatus::InProgress,
        _ => ItemStatus::NotStarted,
    }
}

/// 0–100, one decimal.
pub fn item_percent(status: ItemStatus, value: Decimal, target: Decimal) -> Decimal {
    if status.done() {
        return Decimal::ONE_HUNDRED;
    }
    if target <= Decimal::ZERO {
        return Decimal::ZERO;
    }
    (value * Decimal::ONE_HUNDRED / target)
        .min(Decimal::ONE_HUNDRED)
        .max(Decimal::ZERO)
        .round_dp(1)
}

#[derive(Debug, Clone)]
pub struct ItemState {
    pub required: bool,
    pub status: ItemStatus,
    pub percent: Decimal,
}

#[derive(Debug, Clone)]
pub struct PhaseState {
    pub id: Uuid,
    /// Leaving this phase needs an officer's sign-off.
    pub manual: bool,
    pub items: Vec<ItemState>,
}

impl PhaseState {
    /// Every required item done (a phase with none required needs all of its items).
    pub fn complete(&self) -> bool {
        let required: Vec<&ItemState> = self.items.iter().filter(|i| i.required).collect();
        if required.is_empty() {
            self.items.iter().all(|i| i.status.done())
        } else {
            required.iter().all(|i| i.status.done())
        }
    }

    pub fn to_do(&self) -> usize {
        self.items
            .iter()
            .filter(|i| i.required && !i.status.done())
            .count()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    pub percent: Decimal,
    pub current_phase: Option<Uuid>,
    pub complete: bool,
    /// The current phase is done but needs an officer's sign-off to move on (or to finish).
    pub awaiting_sign_off: bool,
}

/// Mean percentage over the required items (all items when none is required).
pub fn rollup(phases: &[PhaseState]) -> Decimal {
    let all: Vec<&ItemState> = phases.iter().flat_map(|p| p.items.iter()).collect();
    let required: Vec<&ItemState> = all.iter().copied().filter(|i| i.required).collect();
    let counted = if required.is_empty() { all } else { required };
    if counted.is_empty() {
        return Decimal::ZERO;
    }
    let sum: Decimal = counted.iter().map(|i| i.percent).sum();
    (sum / Decimal::from(counted.len())).round_dp(1)
}

/// Where the member stands. Phases are in order; `signed` are the phases an officer signed off.
/// A phase is passed when it is signed off, or when its required items are done and it does not
/// need a sign-off. The member is in the first phase not passed at or after `current` (credit
/// taken back from an earlier phase leaves them where they are while a later phase is open, and
/// keeps the program from completing); only when every later phase is passed do they go back to
/// the earlier open one. The program
/// is complete when every phase is passed. A `flexible` program has no order and no sign-offs:
/// it is complete when every required item is done.
pub fn standing(
    structure: &str,
    phases: &[PhaseState],
    current: Option<Uuid>,
    signed: &[Uuid],
) -> Standing {
    let percent = rollup(phases);
    if phases.is_empty() {
        return Standing {
            percent,
            current_phase: None,
            complete: false,
            awaiting_sign_off: false,
        };
    }
    let flexible = structure == "flexible";
    let passed = |p: &PhaseState| {
        if flexible {
            p.complete()
        } else {
            signed.contains(&p.id) || (p.complete() && !p.manual)
        }
    };
    let first_open = phases.iter().position(|p| !passed(p));
    let Some(open) = first_open else {
        return Standing {
            percent,
            current_phase: phases.last().map(|p| p.id),
            complete: true,
            awaiting_sign_off: false,
        };
    };
    // The first phase not passed from where the member is; back to an earlier one only when
    // every phase from there on is passed (credit taken back from it).
    let at = if flexible {
        open
    } else {
        let stored = current
            .and_then(|c| phases.iter().position(|p| p.id == c))
            .unwrap_or(0);
        phases[stored..]
            .iter()
            .position(|p| !passed(p))
            .map_or(open, |i| stored + i)
    };
    let phase = &phases[at];
    Standing {
        percent,
        current_phase: Some(phase.id),
        complete: false,
        awaiting_sign_off: !flexible
            && phase.manual
            && phase.complete()
            && !signed.contains(&phase.id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn item(required: bool, status: ItemStatus) -> ItemState {
        ItemState {
            required,
            status,
            percent: if status.done() {
                Decimal::ONE_HUNDRED
            } else {
                Decimal::ZERO
            },
        }
    }

    fn phase(n: u128, manual: bool, items: Vec<ItemState>) -> PhaseState {
        PhaseState {
            id: Uuid::from_u128(n),
            manual,
            items,
        }
    }

    #[test]
    fn an_item_is_done_by_credit_or_by_an_officer() {
        assert_eq!(item_status(ItemStatus::NotStarted, d("0"), d("1")), ItemStatus::NotStarted);
        assert_eq!(item_status(ItemStatus::NotStarted, d("0.5"), d("1")), ItemStatus::InProgress);
        assert_eq!(item_status(ItemStatus::InProgress, d("24"), d("24")), ItemStatus::Completed);
        assert_eq!(item_status(ItemStatus::Completed, d("3"), d("24")), ItemStatus::InProgress);
        assert_eq!(item_status(ItemStatus::Verified, d("0"), d("5")), ItemStatus::Verified);
        assert_eq!(item_status(ItemStatus::Waived, d("0"), d("5")), ItemStatus::Waived);
        assert_eq!(item_percent(ItemStatus::InProgress, d("6"), d("24")), d("25.0"));
        assert_eq!(item_percent(ItemStatus::Completed, d("30"), d("24")), d("100"));
        assert_eq!(item_percent(ItemStatus::InProgress, d("1"), d("3")), d("33.3"));
        assert_eq!(item_percent(ItemStatus::Waived, d("0"), d("3")), d("100"));
    }

    #[test]
    fn the_rollup_is_the_mean_of_the_required_items() {
        let mut half = item(true, ItemStatus::InProgress);
        half.percent = d("50");
        let phases = vec![
            phase(1, false, vec![item(true, ItemStatus::Completed), half]),
            phase(
                2,
                false,
                vec![item(true, ItemStatus::NotStarted), item(false, ItemStatus::Completed)],
            ),
        ];
        assert_eq!(rollup(&phases), d("50.0"));
        // No required item at all: every item counts.
        let optional = vec![phase(
            1,
            false,
            vec![item(false, ItemStatus::Completed), item(false, ItemStatus::NotStarted)],
        )];
        assert_eq!(rollup(&optional), d("50.0"));
        assert_eq!(rollup(&[]), d("0"));
    }

    #[test]
    fn phases_advance_on_their_own_until_one_needs_a_sign_off() {
        let phases = vec![
            phase(1, false, vec![item(true, ItemStatus::Completed)]),
            phase(2, true, vec![item(true, ItemStatus::Verified)]),
            phase(3, false, vec![item(true, ItemStatus::NotStarted)]),
        ];
        let s = standing("phases", &phases, Some(Uuid::from_u128(1)), &[]);
        assert_eq!(s.current_phase, Some(Uuid::from_u128(2)));
        assert!(s.awaiting_sign_off);
        assert!(!s.complete);
        // The officer signs phase 2 off: on to phase 3, which is not done.
        let s = standing(
            "phases",
            &phases,
            Some(Uuid::from_u128(2)),
            &[Uuid::from_u128(2)],
        );
        assert_eq!(s.current_phase, Some(Uuid::from_u128(3)));
        assert!(!s.awaiting_sign_off);
        // An optional item left undone does not hold a phase back.
        let phases = vec![
            phase(
                1,
                false,
                vec![item(true, ItemStatus::Completed), item(false, ItemStatus::NotStarted)],
            ),
            phase(2, false, vec![item(true, ItemStatus::NotStarted)]),
        ];
        let s = standing("sequential", &phases, None, &[]);
        assert_eq!(s.current_phase, Some(Uuid::from_u128(2)));
    }

    #[test]
    fn the_program_completes_after_the_last_phase_and_its_sign_off() {
        let done = vec![
            phase(1, false, vec![item(true, ItemStatus::Completed)]),
            phase(2, false, vec![item(true, ItemStatus::Waived)]),
        ];
        let s = standing("phases", &done, Some(Uuid::from_u128(1)), &[]);
        assert!(s.complete);
        assert_eq!(s.percent, d("100.0"));
        let signed = vec![
            phase(1, false, vec![item(true, ItemStatus::Completed)]),
            phase(2, true, vec![item(true, ItemStatus::Completed)]),
        ];
        let s = standing("phases", &signed, Some(Uuid::from_u128(2)), &[]);
        assert!(!s.complete && s.awaiting_sign_off);
        let s = standing(
            "phases",
            &signed,
            Some(Uuid::from_u128(2)),
            &[Uuid::from_u128(2)],
        );
        assert!(s.complete);
        // A forced sign-off passes a phase with items still open.
        let open = vec![
            phase(1, false, vec![item(true, ItemStatus::Completed)]),
            phase(2, true, vec![item(true, ItemStatus::InProgress)]),
        ];
        let s = standing("phases", &open, Some(Uuid::from_u128(2)), &[]);
        assert!(!s.complete && !s.awaiting_sign_off);
        assert!(
            standing(
                "phases",
                &open,
                Some(Uuid::from_u128(2)),
                &[Uuid::from_u128(2)]
            )
            .complete
        );
    }

    #[test]
    fn credit_taken_back_keeps_the_member_in_an_open_later_phase_and_reopens_completion() {
        // The member is in phase 2; credit in phase 1 was taken back (a voided record).
        let phases = vec![
            phase(1, false, vec![item(true, ItemStatus::InProgress)]),
            phase(2, false, vec![item(true, ItemStatus::Completed)]),
        ];
        let s = standing("phases", &phases, Some(Uuid::from_u128(2)), &[]);
        assert_eq!(s.current_phase, Some(Uuid::from_u128(1)));
        assert!(!s.complete);
        // While a later phase is open, the member stays where they are.
        let three = vec![
            phase(1, false, vec![item(true, ItemStatus::InProgress)]),
            phase(2, true, vec![item(true, ItemStatus::Completed)]),
            phase(3, false, vec![item(true, ItemStatus::NotStarted)]),
        ];
        let s = standing("phases", &three, Some(Uuid::from_u128(2)), &[]);
        assert_eq!(s.current_phase, Some(Uuid::from_u128(2)));
        assert!(s.awaiting_sign_off);
        // Phase 2 signed off: on to phase 3, not back to phase 1 (the reviewer's stuck case).
        let s = standing(
            "phases",
            &three,
            Some(Uuid::from_u128(2)),
            &[Uuid::from_u128(2)],
        );
        assert_eq!(s.current_phase, Some(Uuid::from_u128(3)));
        // A phase an officer signed off stays passed when its credit goes.
        let s = standing(
            "phases",
            &phases,
            Some(Uuid::from_u128(2)),
            &[Uuid::from_u128(1)],
        );
        assert!(s.complete);
    }

    #[test]
    fn a_flexible_program_has_no_order() {
        let phases = vec![
            phase(1, true, vec![item(true, ItemStatus::NotStarted)]),
            phase(2, false, vec![item(true, ItemStatus::Completed)]),
        ];
        let s = standing("flexible", &phases, None, &[]);
        assert_eq!(s.current_phase, Some(Uuid::from_u128(1)));
        assert!(!s.complete && !s.awaiting_sign_off);
        let phases = vec![
            phase(1, true, vec![item(true, ItemStatus::Completed)]),
            phase(2, false, vec![item(true, ItemStatus::Completed)]),
        ];
        assert!(standing("flexible", &phases, None, &[]).complete);
    }
}
