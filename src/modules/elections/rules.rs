//! Elections' pure rules, table-tested below: the words of an election's life and its counting
//! methods, what a ballot may hold, the count of each method (instant runoff round by round,
//! ties found and broken only where a rule says how), the ballot chain's hashes and the
//! receipt codes members are given.

use sha2::{Digest, Sha256};
use uuid::Uuid;

crate::words! {
    /// Where an election is in its life.
    pub enum ElectionStatus {
        /// Being prepared: positions and candidates.
        Draft = "draft",
        /// Members nominate; nominees accept or decline.
        Nominations = "nominations",
        /// The roll is frozen and members vote.
        Open = "open",
        /// Voting ended; the count stands.
        Closed = "closed",
        Cancelled = "cancelled",
    }
}

impl ElectionStatus {
    pub fn label(self) -> &'static str {
        match self {
            ElectionStatus::Draft => "Draft",
            ElectionStatus::Nominations => "Taking nominations",
            ElectionStatus::Open => "Voting open",
            ElectionStatus::Closed => "Closed",
            ElectionStatus::Cancelled => "Cancelled",
        }
    }

    /// Before voting: positions and candidates may still change.
    pub fn preparing(self) -> bool {
        matches!(self, ElectionStatus::Draft | ElectionStatus::Nominations)
    }
}

crate::words! {
    /// How the ballots of a position are counted.
    pub enum VotingMethod {
        /// Most votes wins (several seats: the most-voted fill them).
        Plurality = "plurality",
        /// More than half of the ballots cast.
        Majority = "majority",
        /// At least the election's percentage of the ballots cast (two thirds by default).
        Supermajority = "supermajority",
        /// Each voter approves any number of candidates; the most approved win.
        Approval = "approval",
        /// Voters rank candidates; instant runoff until one has more than half.
        RankedChoice = "ranked_choice",
    }
}

impl VotingMethod {
    pub fn label(self) -> &'static str {
        match self {
            VotingMethod::Plurality => "Most votes wins",
            VotingMethod::Majority => "Majority (more than half)",
            VotingMethod::Supermajority => "Supermajority",
            VotingMethod::Approval => "Approval (vote for any number)",
            VotingMethod::RankedChoice => "Ranked choice (instant runoff)",
        }
    }

    /// Whether a position counted this way may fill more than one seat.
    pub fn fills_several_seats(self) -> bool {
        matches!(self, VotingMethod::Plurality | VotingMethod::Approval)
    }
}

crate::words! {
    /// What happens when candidates tie for a seat (or nobody reaches the majority needed).
    pub enum TiePolicy {
        /// A runoff election among them is made at the close, as a draft.
        Runoff = "runoff",
        /// All tied candidates are elected.
        CoWinners = "co_winners",
        /// The chair picks among the tied after the close (recorded and audited).
        ChairDecides = "chair_decides",
    }
}

impl TiePolicy {
    pub fn label(self) -> &'static str {
        match self {
            TiePolicy::Runoff => "Hold a runoff among them",
            TiePolicy::CoWinners => "All tied candidates are elected",
            TiePolicy::ChairDecides => "The chair decides",
        }
    }
}

crate::words! {
    /// A candidate's answer to a nomination.
    pub enum CandidateStatus {
        /// Nominated by someone else; not on the ballot until they accept.
        Pending = "pending",
        Accepted = "accepted",
        Declined = "declined",
    }
}

crate::words! {
    /// How a ballot reached the chain.
    pub enum BallotSource {
        Online = "online",
        Paper = "paper",
    }
}

crate::words! {
    /// A batch of paper ballots.
    pub enum BatchStatus {
        /// Entered; waits for a second officer.
        Pending = "pending",
        /// Attested: its ballots are in the chain.
        Confirmed = "confirmed",
        Voided = "voided",
    }
}

/// Whether `choices` is a ballot the position's method accepts, among its `candidates`:
/// the reason in words if not.
pub fn check_choices(
    method: VotingMethod,
    seats: u8,
    candidates: &[Uuid],
    choices: &[Uuid],
) -> Result<(), String> {
    if choices.is_empty() {
        return Err("choose at least one candidate".into());
    }
    if let Some(stray) = choices.iter().find(|c| !candidates.contains(c)) {
        return Err(format!("{stray} is not a candidate for this position"));
    }
    let mut seen = choices.to_vec();
    seen.sort();
    seen.dedup();
    if seen.len() != choices.len() {
        return Err("names a candidate twice".into());
    }
    match method {
        VotingMethod::Plurality if choices.len() > usize::from(seats.max(1)) => Err(if seats <= 1 {
            "choose one candidate".into()
        } else {
            format!("choose at most {seats} candidates")
        }),
        VotingMethod::Majority | VotingMethod::Supermajority if choices.len() != 1 => {
            Err("choose one candidate".into())
        }
        _ => Ok(()),
    }
}

/// How a position's count ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Every seat is filled.
    Elected,
    /// Candidates tie for a seat: the tie policy decides.
    Tie,
    /// Nobody reached the votes needed (majority, supermajority, or every ballot exhausted).
    NoWinner,
    /// No ballots were cast.
    NoBallots,
}

impl Outcome {
    pub fn is_tie(self) -> bool {
        self == Outcome::Tie
    }
}

/// One round of an instant runoff (every other method has one round).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Round {
    /// Votes per candidate still in the count, in ballot order.
    pub counts: Vec<(Uuid, u32)>,
    /// Ballots whose ranked candidates are all out.
    pub exhausted: u32,
    /// Who left the count after this round.
    pub eliminated: Option<Uuid>,
    /// Set when a tie for the fewest votes was broken, and how.
    pub tie_break: Option<String>,
}

/// A position's count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Count {
    pub ballots: u32,
    /// Votes (approvals, first choices in the last round) per candidate, in ballot order.
    pub totals: Vec<(Uuid, u32)>,
    pub rounds: Vec<Round>,
    pub winners: Vec<Uuid>,
    /// Tied for the last seat(s) (Tie), or the ones a runoff would be held between (NoWinner).
    pub tied: Vec<Uuid>,
    pub outcome: Outcome,
    /// The votes a candidate needed to win, where a method sets one.
    pub needed: Option<u32>,
}

/// Counts a position's ballots. `candidates` in ballot order; each ballot a valid list of
/// choices (`check_choices`): one choice, the approved ones, or a ranking (first is first).
pub fn count(
    method: VotingMethod,
    seats: u8,
    percent: u8,
    candidates: &[Uuid],
    ballots: &[Vec<Uuid>],
) -> Count {
    let n = ballots.len() as u32;
    if method == VotingMethod::RankedChoice {
        return instant_runoff(candidates, ballots);
    }
    let totals: Vec<(Uuid, u32)> = candidates
        .iter()
        .map(|c| {
            let votes = ballots.iter().filter(|b| b.contains(c)).count() as u32;
            (*c, votes)
        })
        .collect();
    let round = Round {
        counts: totals.clone(),
        exhausted: 0,
        eliminated: None,
        tie_break: None,
    };
    let mut out = Count {
        ballots: n,
        totals: totals.clone(),
        rounds: vec![round],
        winners: Vec::new(),
        tied: Vec::new(),
        outcome: Outcome::NoBallots,
        needed: None,
    };
    if n == 0 {
        return out;
    }
    let mut ranked = totals.clone();
    // Stable: equal votes keep ballot order (only for listing; ties are found by votes).
    ranked.sort_by_key(|r| std::cmp::Reverse(r.1));
    match method {
        VotingMethod::Plurality | VotingMethod::Approval => {
            let seats = usize::from(seats.max(1));
            let with_votes: Vec<(Uuid, u32)> =
                ranked.iter().copied().filter(|(_, v)| *v > 0).collect();
            if with_votes.len() <= seats {
                out.winners = with_votes.iter().map(|(c, _)| *c).collect();
                out.outcome = if out.winners.len() == seats || out.winners.len() == candidates.len()
                {
                    Outcome::Elected
                } else {
                    Outcome::NoWinner
                };
                return out;
            }
            let cut = with_votes[seats - 1].1;
            let above: Vec<Uuid> = with_votes
                .iter()
                .filter(|(_, v)| *v > cut)
                .map(|(c, _)| *c)
                .collect();
            let at: Vec<Uuid> = with_votes
                .iter()
                .filter(|(_, v)| *v == cut)
                .map(|(c, _)| *c)
                .collect();
            if above.len() + at.len() == seats {
                out.winners = above.into_iter().chain(at).collect();
                out.outcome = Outcome::Elected;
            } else {
                out.winners = above;
                out.tied = at;
                out.outcome = Outcome::Tie;
            }
        }
        VotingMethod::Majority | VotingMethod::Supermajority => {
            let needed = if method == VotingMethod::Majority {
                n / 2 + 1
            } else if percent == 67 {
                // 67 stands for two thirds, as bylaws write it: 6 of 9, 7 of 10.
                (2 * n).div_ceil(3)
            } else {
                // At least `percent` of the ballots: ⌈n · p / 100⌉.
                (n * u32::from(percent)).div_ceil(100)
            };
            out.needed = Some(needed);
            let top = ranked[0].1;
            let firsts: Vec<Uuid> = ranked
                .iter()
                .filter(|(_, v)| *v == top)
                .map(|(c, _)| *c)
                .collect();
            if top >= needed && firsts.len() == 1 {
                out.winners = firsts;
                out.outcome = Outcome::Elected;
            } else if firsts.len() > 1 {
                out.tied = firsts;
                out.outcome = Outcome::Tie;
            } else {
                // The runoff is between the first and those tied for second.
                let second = ranked.get(1).map(|(_, v)| *v).unwrap_or(0);
                out.tied = ranked
                    .iter()
                    .filter(|(_, v)| *v == top || (*v == second && second > 0))
                    .map(|(c, _)| *c)
                    .collect();
                out.outcome = Outcome::NoWinner;
            }
        }
        VotingMethod::RankedChoice => unreachable!("counted above"),
    }
    out
}

/// Instant runoff: each round counts every ballot for its highest-ranked candidate still in;
/// one with more than half of the ballots still counting wins; otherwise the one with the
/// fewest votes leaves. A tie for the fewest is broken by the earlier rounds (fewer votes in the
/// latest round where they differ), then by ballot order (the one listed later leaves); each is
/// written on the round. Two left with equal votes tie.
fn instant_runoff(candidates: &[Uuid], ballots: &[Vec<Uuid>]) -> Count {
    let n = ballots.len() as u32;
    let mut active: Vec<Uuid> = candidates.to_vec();
    let mut rounds: Vec<Round> = Vec::new();
    let mut out = Count {
        ballots: n,
        totals: candidates.iter().map(|c| (*c, 0)).collect(),
        rounds: Vec::new(),
        winners: Vec::new(),
        tied: Vec::new(),
        outcome: Outcome::NoBallots,
        needed: None,
    };
    if n == 0 || candidates.is_empty() {
        return out;
    }
    loop {
        let mut counts: Vec<(Uuid, u32)> = active.iter().map(|c| (*c, 0)).collect();
        let mut exhausted = 0;
        for b in ballots {
            match b.iter().find(|c| active.contains(c)) {
                Some(c) => {
                    if let Some(slot) = counts.iter_mut().find(|(id, _)| id == c) {
                        slot.1 += 1;
                    }
                }
                None => exhausted += 1,
            }
        }
        let continuing = n - exhausted;
        let needed = continuing / 2 + 1;
        out.needed = Some(needed);
        let top = counts.iter().map(|(_, v)| *v).max().unwrap_or(0);
        let mut round = Round {
            counts: counts.clone(),
            exhausted,
            eliminated: None,
            tie_break: None,
        };
        if continuing == 0 {
            rounds.push(round);
            out.outcome = Outcome::NoWinner;
            break;
        }
        if top >= needed {
            let winner = counts.iter().find(|(_, v)| *v == top).map(|(c, _)| *c);
            rounds.push(round);
            out.winners = winner.into_iter().collect();
            out.outcome = Outcome::Elected;
            break;
        }
        let low = counts.iter().map(|(_, v)| *v).min().unwrap_or(0);
        let lowest: Vec<Uuid> = counts
            .iter()
            .filter(|(_, v)| *v == low)
            .map(|(c, _)| *c)
            .collect();
        if lowest.len() == active.len() {
            // Everyone still in has the same votes: nobody can be dropped fairly.
            rounds.push(round);
            out.tied = active.clone();
            out.outcome = Outcome::Tie;
            break;
        }
        let (out_of_count, how) = break_low_tie(&lowest, &rounds, candidates);
        round.eliminated = Some(out_of_count);
        round.tie_break = how;
        rounds.push(round);
        active.retain(|c| *c != out_of_count);
        if active.len() == 1 {
            // The last one standing holds every continuing ballot next round.
            continue;
        }
    }
    if let Some(last) = rounds.last() {
        for (c, v) in &last.counts {
            if let Some(slot) = out.totals.iter_mut().find(|(id, _)| id == c) {
                slot.1 = *v;
            }
        }
    }
    out.rounds = rounds;
    out
}

/// Who of `lowest` (tied for the fewest votes) leaves: fewer votes in the latest earlier round
/// where they differ; still tied, the one listed last on the ballot.
fn break_low_tie(
    lowest: &[Uuid],
    earlier: &[Round],
    candidates: &[Uuid],
) -> (Uuid, Option<String>) {
    if lowest.len() == 1 {
        return (lowest[0], None);
    }
    let mut left: Vec<Uuid> = lowest.to_vec();
    for (i, r) in earlier.iter().enumerate().rev() {
        let votes = |c: &Uuid| r.counts.iter().find(|(id, _)| id == c).map(|(_, v)| *v);
        let Some(min) = left.iter().filter_map(votes).min() else {
            continue;
        };
        let fewer: Vec<Uuid> = left
            .iter()
            .copied()
            .filter(|c| votes(c) == Some(min))
            .collect();
        if fewer.len() < left.len() {
            left = fewer;
            if left.len() == 1 {
                return (
                    left[0],
                    Some(format!("tie for the fewest votes broken by round {}", i + 1)),
                );
            }
        }
    }
    let last = candidates
        .iter()
        .rev()
        .find(|c| left.contains(c))
        .copied()
        .unwrap_or(left[0]);
    (
        last,
        Some("tie for the fewest votes broken by ballot order".into()),
    )
}

// ---------------------------------------------------------------------------------------------
// The ballot chain and receipts

fn hex_sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The hash an election's chain starts from.
pub fn genesis(election: Uuid) -> String {
    hex_sha256(format!("logbook-ballots:{election}").as_bytes())
}

/// A ballot's link: the previous hash and everything the ballot says.
pub fn link(prev: &str, id: Uuid, position: Uuid, choices: &str, source: BallotSource) -> String {
    hex_sha256(format!("{prev}|{id}|{position}|{choices}|{}", source.as_str()).as_bytes())
}

/// The letters of a receipt code: no 0/O, 1/I to misread.
const RECEIPT_ALPHABET: &[u8; 32] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";

/// A new receipt code, 80 random bits as four groups of four: `7KQ2-M9XD-4TPA-Z3HC`.
pub fn new_receipt() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    let letters: Vec<char> = bytes
        .iter()
        .map(|b| RECEIPT_ALPHABET[usize::from(*b) % 32] as char)
        .collect();
    letters
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// A receipt as typed (any case, spaces or dashes) reduced to its letters; None if it cannot
/// be a receipt.
pub fn normalize_receipt(text: &str) -> Option<String> {
    let letters: String = text
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (letters.len() == 16 && letters.bytes().all(|b| RECEIPT_ALPHABET.contains(&b)))
        .then_some(letters)
}

/// What the ballot keeps of a receipt: its hash, so the code itself is only the voter's.
pub fn receipt_hash(normalized: &str) -> String {
    hex_sha256(format!("logbook-receipt:{normalized}").as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ballots as letters and how many of each.
    type Spec = &'static [(&'static str, usize)];
    /// method, seats, percent, candidates, ballots, winners, tied, outcome.
    type CountCase = (VotingMethod, u8, u8, usize, Spec, &'static str, &'static str, Outcome);
    /// candidates, ballots, winners, tied, outcome, rounds, eliminated in order.
    type RunoffCase = (usize, Spec, &'static str, &'static str, Outcome, usize, &'static str);

    fn ids(n: usize) -> Vec<Uuid> {
        (1..=n as u128).map(Uuid::from_u128).collect()
    }

    /// Ballots written as letters: "A", "AB" (approval or ranking), for candidates A, B, C…
    fn ballots(cands: &[Uuid], spec: &[(&str, usize)]) -> Vec<Vec<Uuid>> {
        let mut out = Vec::new();
        for (letters, times) in spec {
            let b: Vec<Uuid> = letters
                .bytes()
                .map(|l| cands[usize::from(l - b'A')])
                .collect();
            for _ in 0..*times {
                out.push(b.clone());
            }
        }
        out
    }

    fn letters(cands: &[Uuid], of: &[Uuid]) -> String {
        of.iter()
            .map(|c| (b'A' + cands.iter().position(|x| x == c).unwrap() as u8) as char)
            .collect()
    }

    #[test]
    fn the_methods_count_as_the_table_says() {
        use Outcome::*;
        use VotingMethod::*;
        // method, seats, percent, candidates, ballots, winners, tied, outcome
        let table: &[CountCase] = &[
            (Plurality, 1, 67, 3, &[("A", 5), ("B", 3), ("C", 2)], "A", "", Elected),
            (Plurality, 1, 67, 3, &[("A", 4), ("B", 4), ("C", 2)], "", "AB", Tie),
            (Plurality, 1, 67, 2, &[], "", "", NoBallots),
            // Two seats: the top two; a tie for the second seat leaves it open.
            (Plurality, 2, 67, 4, &[("A", 5), ("B", 3), ("C", 3), ("D", 1)], "A", "BC", Tie),
            (Plurality, 2, 67, 3, &[("A", 5), ("B", 3), ("C", 1)], "AB", "", Elected),
            // Uncontested: the only candidate with votes is elected.
            (Plurality, 1, 67, 1, &[("A", 3)], "A", "", Elected),
            // Majority: 6 of 10 is more than half; 5 of 10 is not.
            (Majority, 1, 67, 3, &[("A", 6), ("B", 3), ("C", 1)], "A", "", Elected),
            (Majority, 1, 67, 3, &[("A", 5), ("B", 3), ("C", 2)], "", "AB", NoWinner),
            (Majority, 1, 67, 3, &[("A", 4), ("B", 3), ("C", 3)], "", "ABC", NoWinner),
            (Majority, 1, 67, 2, &[("A", 5), ("B", 5)], "", "AB", Tie),
            // Supermajority: two thirds of 9 is 6; of 10 it is 7 (rounded up).
            (Supermajority, 1, 67, 2, &[("A", 6), ("B", 3)], "A", "", Elected),
            (Supermajority, 1, 67, 2, &[("A", 6), ("B", 4)], "", "AB", NoWinner),
            (Supermajority, 1, 75, 2, &[("A", 3), ("B", 1)], "A", "", Elected),
            // Approval: approvals counted per candidate; two seats.
            (Approval, 2, 67, 3, &[("AB", 3), ("BC", 2), ("B", 1)], "BA", "", Elected),
            (Approval, 1, 67, 3, &[("AB", 2), ("BC", 2)], "B", "", Elected),
            (Approval, 1, 67, 3, &[("AB", 2), ("C", 1)], "", "AB", Tie),
        ];
        for (i, (method, seats, pct, n, spec, winners, tied, outcome)) in table.iter().enumerate()
        {
            let cands = ids(*n);
            let b = ballots(&cands, spec);
            for ballot in &b {
                assert_eq!(check_choices(*method, *seats, &cands, ballot), Ok(()), "row {i}");
            }
            let c = count(*method, *seats, *pct, &cands, &b);
            assert_eq!(letters(&cands, &c.winners), *winners, "row {i}: {c:?}");
            assert_eq!(letters(&cands, &c.tied), *tied, "row {i}: {c:?}");
            assert_eq!(c.outcome, *outcome, "row {i}: {c:?}");
            assert_eq!(c.ballots as usize, b.len(), "row {i}");
        }
    }

    #[test]
    fn instant_runoff_eliminates_round_by_round() {
        use Outcome::*;
        // ballots, winners, tied, outcome, rounds, eliminated in order, tie-break notes
        let table: &[RunoffCase] = &[
            // A has more than half at once.
            (3, &[("ABC", 6), ("BAC", 3), ("CBA", 2)], "A", "", Elected, 1, ""),
            // C out; its ballots go to B, who passes A.
            (3, &[("ABC", 4), ("BCA", 3), ("CBA", 2)], "B", "", Elected, 2, "C"),
            // Five candidates, 60 ballots: E and C leave; A and D then tie for the fewest and
            // round 1 (D had fewer) decides.
            (
                5,
                &[
                    ("ABCDE", 17),
                    ("BCADE", 14),
                    ("CBADE", 12),
                    ("DCBAE", 9),
                    ("EDCBA", 8),
                ],
                "B",
                "",
                Elected,
                4,
                "ECD",
            ),
            // Exhausted ballots leave the count: after C goes 3 of 4 continue, and A has 2 of them.
            (3, &[("A", 2), ("B", 1), ("C", 1), ("CA", 0)], "A", "", Elected, 2, "C"),
            // A two-way final tie.
            (3, &[("AC", 2), ("BC", 2), ("C", 1)], "", "AB", Tie, 2, "C"),
            // Every ballot exhausted.
            (2, &[("A", 1), ("B", 1)], "", "AB", Tie, 1, ""),
            (2, &[], "", "", NoBallots, 0, ""),
        ];
        for (i, (n, spec, winners, tied, outcome, rounds, gone)) in table.iter().enumerate() {
            let cands = ids(*n);
            let b = ballots(&cands, spec);
            let c = count(VotingMethod::RankedChoice, 1, 67, &cands, &b);
            assert_eq!(letters(&cands, &c.winners), *winners, "row {i}: {c:#?}");
            assert_eq!(letters(&cands, &c.tied), *tied, "row {i}: {c:#?}");
            assert_eq!(c.outcome, *outcome, "row {i}: {c:#?}");
            assert_eq!(c.rounds.len(), *rounds, "row {i}: {c:#?}");
            let eliminated: Vec<Uuid> = c.rounds.iter().filter_map(|r| r.eliminated).collect();
            assert_eq!(letters(&cands, &eliminated), *gone, "row {i}: {c:#?}");
        }
    }

    #[test]
    fn a_tie_for_the_fewest_is_broken_by_earlier_rounds_then_ballot_order() {
        let cands = ids(4);
        // Round 1: A 5, B 4, C 2, D 1 → D out (to C). Round 2: A 5, B 4, C 3 → C out.
        let b = ballots(&cands, &[("A", 5), ("B", 4), ("C", 2), ("DC", 1)]);
        let c = count(VotingMethod::RankedChoice, 1, 67, &cands, &b);
        assert_eq!(c.rounds[0].eliminated, Some(cands[3]));
        assert_eq!(c.rounds[0].tie_break, None);
        // B and C tie at 3 in round 2 after D's ballots move; round 1 had B 3, C 2: C leaves.
        let b = ballots(
            &cands,
            &[("A", 5), ("BA", 3), ("CA", 2), ("DC", 1), ("DB", 0)],
        );
        let c = count(VotingMethod::RankedChoice, 1, 67, &cands, &b);
        assert_eq!(c.rounds[1].eliminated, Some(cands[2]), "{c:#?}");
        assert_eq!(
            c.rounds[1].tie_break.as_deref(),
            Some("tie for the fewest votes broken by round 1")
        );
        assert_eq!(c.winners, vec![cands[0]]);
        // C and D tie in the first round: no earlier round, so D (listed later) leaves.
        let b = ballots(&cands, &[("A", 3), ("B", 2), ("CB", 1), ("DA", 1)]);
        let c = count(VotingMethod::RankedChoice, 1, 67, &cands, &b);
        assert_eq!(c.rounds[0].eliminated, Some(cands[3]), "{c:#?}");
        assert_eq!(
            c.rounds[0].tie_break.as_deref(),
            Some("tie for the fewest votes broken by ballot order")
        );
    }

    #[test]
    fn a_ballot_holds_what_its_method_allows() {
        let c = ids(3);
        let table: &[(VotingMethod, u8, Vec<Uuid>, Option<&str>)] = &[
            (VotingMethod::Plurality, 1, vec![c[0]], None),
            (VotingMethod::Plurality, 1, vec![c[0], c[1]], Some("choose one candidate")),
            (VotingMethod::Plurality, 2, vec![c[0], c[1]], None),
            (VotingMethod::Plurality, 2, vec![c[0], c[1], c[2]], Some("choose at most 2")),
            (VotingMethod::Majority, 1, vec![c[0], c[1]], Some("choose one")),
            (VotingMethod::Approval, 1, vec![c[0], c[1], c[2]], None),
            (VotingMethod::RankedChoice, 1, vec![c[2], c[0]], None),
            (VotingMethod::RankedChoice, 1, vec![c[2], c[2]], Some("twice")),
            (VotingMethod::Approval, 1, vec![], Some("at least one")),
            (VotingMethod::Plurality, 1, vec![Uuid::nil()], Some("is not a candidate")),
        ];
        for (i, (method, seats, choices, err)) in table.iter().enumerate() {
            let got = check_choices(*method, *seats, &c, choices);
            match err {
                None => assert_eq!(got, Ok(()), "row {i}"),
                Some(e) => assert!(got.as_ref().is_err_and(|g| g.contains(e)), "row {i}: {got:?}"),
            }
        }
    }

    #[test]
    fn receipts_read_back_however_they_are_typed() {
        let r = new_receipt();
        assert_eq!(r.len(), 19);
        let n = normalize_receipt(&r).unwrap();
        assert_eq!(normalize_receipt(&r.to_lowercase().replace('-', " ")), Some(n.clone()));
        assert_eq!(receipt_hash(&n).len(), 64);
        assert_ne!(new_receipt(), r);
        assert_eq!(normalize_receipt("0OOO-1111-IIII-2222"), None);
        assert_eq!(normalize_receipt("ABCD"), None);
    }

    #[test]
    fn the_chain_changes_with_every_part_of_a_ballot() {
        let e = Uuid::from_u128(7);
        let g = genesis(e);
        assert_ne!(g, genesis(Uuid::from_u128(8)));
        let (id, pos) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let base = link(&g, id, pos, "[\"x\"]", BallotSource::Online);
        assert_ne!(base, link(&g, id, pos, "[\"y\"]", BallotSource::Online));
        assert_ne!(base, link(&g, id, pos, "[\"x\"]", BallotSource::Paper));
        assert_ne!(base, link(&base, id, pos, "[\"x\"]", BallotSource::Online));
    }
}
