//! The order of every pass of a run: the one place that decides what runs when.
//!
//! A run is rounds. Warm-up rounds come first (`--warmup-repeats N`, default 1): each
//! case runs one clean pass per warm-up round, recorded but never judged. Then round
//! r = 1..=K of every case runs before round r+1 of any case (`--order interleaved`,
//! the default), in an order shuffled afresh per round from `--seed`; a burst of
//! machine noise then lands on one repeat of several cases instead of on every repeat
//! of one. `--order grouped` runs each case's rounds back to back (the old order).
//!
//! Each judged round of a case is a clean pass (no probe attached: the headline
//! figures) and, for the first `probed_rounds` rounds, a probed pass of the same case
//! with identical options (the kernel's explanation). The two passes of a round are
//! shuffled like the rest, so neither always runs first.
use rand::{seq::SliceRandom, SeedableRng};

pub use crate::cli::Order;
use rand_chacha::ChaCha8Rng;

/// Whether the probes are attached during a pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Pass {
    /// No evbench BPF program attached, BPF run-time statistics off.
    Clean,
    /// The probe sets asked for attached; the workload's own tasks are the targets.
    Probed,
}

impl Pass {
    pub fn as_str(self) -> &'static str {
        match self {
            Pass::Clean => "clean",
            Pass::Probed => "probed",
        }
    }
}

/// One pass to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Slot {
    /// Index of the case in the plan.
    pub case: usize,
    /// 1-based round; warm-up rounds are numbered 1..=N separately.
    pub round: u32,
    pub warmup: bool,
    pub pass: Pass,
}

/// What the scheduler needs to know.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    pub cases: usize,
    /// Judged rounds per case (`--repeat K`).
    pub rounds: u32,
    /// Warm-up rounds per case (`--warmup-repeats N`), clean passes only.
    pub warmup_rounds: u32,
    /// Judged rounds that also get a probed pass (0 with `--probes none`).
    pub probed_rounds: u32,
    pub order: Order,
    pub seed: u64,
}

/// How many of K judged rounds get a probed pass: every one up to 3 (the fewest
/// repeats `compare` judges a metric from), so the per-op kernel metrics are judged
/// whenever the headline is, at a cost of at most 3 extra passes per case.
pub fn probed_rounds(rounds: u32, probes_on: bool) -> u32 {
    if probes_on {
        rounds.min(3)
    } else {
        0
    }
}

/// Every pass of the run, in the order it runs.
pub fn schedule(plan: &Plan) -> Vec<Slot> {
    Scheduler::new(plan.seed).plan(plan)
}

fn round_slots(case: usize, round: u32, warmup: bool, probed: bool) -> Vec<Slot> {
    let mut v = vec![Slot {
        case,
        round,
        warmup,
        pass: Pass::Clean,
    }];
    if probed {
        v.push(Slot {
            case,
            round,
            warmup,
            pass: Pass::Probed,
        });
    }
    v
}

/// The order-maker: the planned rounds, then (for `--repeat auto`) one more round at a
/// time for the cases that still need it, all from one seeded generator.
pub struct Scheduler {
    rng: ChaCha8Rng,
}

impl Scheduler {
    pub fn new(seed: u64) -> Self {
        Self {
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// Every planned pass, in the order it runs.
    pub fn plan(&mut self, plan: &Plan) -> Vec<Slot> {
        let mut out = Vec::new();
        let probed = |warmup: bool, round: u32| !warmup && round <= plan.probed_rounds;
        match plan.order {
            Order::Interleaved => {
                for (warmup, n) in [(true, plan.warmup_rounds), (false, plan.rounds)] {
                    for round in 1..=n {
                        let mut v: Vec<Slot> = (0..plan.cases)
                            .flat_map(|c| round_slots(c, round, warmup, probed(warmup, round)))
                            .collect();
                        v.shuffle(&mut self.rng);
                        out.extend(v);
                    }
                }
            }
            Order::Grouped => {
                for case in 0..plan.cases {
                    for (warmup, n) in [(true, plan.warmup_rounds), (false, plan.rounds)] {
                        for round in 1..=n {
                            let mut v = round_slots(case, round, warmup, probed(warmup, round));
                            v.shuffle(&mut self.rng);
                            out.extend(v);
                        }
                    }
                }
            }
        }
        out
    }

    /// One more judged round (clean passes only) of `cases`, shuffled.
    pub fn round(&mut self, cases: &[usize], round: u32) -> Vec<Slot> {
        let mut v: Vec<Slot> = cases
            .iter()
            .flat_map(|&c| round_slots(c, round, false, false))
            .collect();
        v.shuffle(&mut self.rng);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(order: Order) -> Plan {
        Plan {
            cases: 3,
            rounds: 4,
            warmup_rounds: 1,
            probed_rounds: 3,
            order,
            seed: 7,
        }
    }

    #[test]
    fn every_pass_once_warmups_first_and_probed_only_where_asked() {
        for order in [Order::Interleaved, Order::Grouped] {
            let s = schedule(&plan(order));
            // 3 cases × (1 warm-up + 4 clean + 3 probed)
            assert_eq!(s.len(), 3 * (1 + 4 + 3), "{order:?}");
            let mut seen = std::collections::HashSet::new();
            for slot in &s {
                assert!(seen.insert(*slot), "{slot:?} twice");
                if slot.warmup {
                    assert_eq!(slot.pass, Pass::Clean);
                }
                if slot.pass == Pass::Probed {
                    assert!(slot.round <= 3);
                }
            }
        }
    }

    #[test]
    fn interleaved_rounds_never_overlap_and_the_seed_fixes_the_order() {
        let s = schedule(&plan(Order::Interleaved));
        let warm = s.iter().take_while(|x| x.warmup).count();
        assert_eq!(warm, 3, "every warm-up first");
        let judged: Vec<u32> = s.iter().filter(|x| !x.warmup).map(|x| x.round).collect();
        assert!(judged.windows(2).all(|w| w[0] <= w[1]), "{judged:?}");
        assert_eq!(s, schedule(&plan(Order::Interleaved)));
        let mut other = plan(Order::Interleaved);
        other.seed = 8;
        assert_ne!(s, schedule(&other));
        // Shuffled: with 3 cases over 4 rounds the first case is not always first.
        let firsts: std::collections::HashSet<usize> = (1..=4)
            .map(|r| s.iter().find(|x| !x.warmup && x.round == r).unwrap().case)
            .collect();
        assert!(firsts.len() > 1, "{s:?}");
    }

    #[test]
    fn grouped_runs_each_case_back_to_back() {
        let s = schedule(&plan(Order::Grouped));
        let cases: Vec<usize> = s.iter().map(|x| x.case).collect();
        assert!(cases.windows(2).all(|w| w[0] <= w[1]), "{cases:?}");
    }

    #[test]
    fn probed_rounds_cover_what_compare_judges() {
        assert_eq!(probed_rounds(1, true), 1);
        assert_eq!(probed_rounds(5, true), 3);
        assert_eq!(probed_rounds(5, false), 0);
    }
}
