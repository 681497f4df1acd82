//! The numbers of a large meeting's report, where a lane per person is unreadable: how many
//! were in the meeting over time, joins and leaves over time, the distribution of time in
//! the meeting, and which few people get a lane. Pure functions over [`Person`]s, so each is
//! tested on hand-made sessions without drawing anything.

use crate::model::Person;

/// The most buckets a time series has: about one per horizontal pixel of the chart, so a
/// month-long listing still draws (and weighs) the same as a three-hour one.
pub const MAX_POINTS: usize = 1500;

/// Bucket widths the series chooses from, seconds: the smallest that keeps the series
/// within its points wins, so a meeting of up to 25 hours is counted minute by minute.
const STEPS: [i64; 12] = [
    60, 120, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400,
];

/// Bin widths of the time-in-meeting histogram, seconds.
const BIN_WIDTHS: [i64; 14] = [
    60, 120, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400, 172_800, 604_800,
];

/// The most bins the histogram has (a bar must stay wide enough to hover).
pub const MAX_BINS: usize = 30;

/// Attendance over time, in equal buckets `[start + i·step, start + (i+1)·step)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Series {
    /// The first bucket's start: the window's start, floored to whole `step`s.
    pub start: i64,
    pub step: i64,
    /// The most people in the meeting at once during each bucket. People, not sessions:
    /// someone on a laptop and a phone counts once, as time in the meeting does.
    pub present: Vec<u32>,
    /// Sessions that joined in each bucket (a rejoin is a join, as WeCom lists it).
    pub joins: Vec<u32>,
    /// Sessions that quit in each bucket; a session still in the meeting has not left.
    pub leaves: Vec<u32>,
}

impl Series {
    /// The series over `[from, to)` in at most `max_points` buckets. Sessions reaching
    /// outside the window count where they overlap it (present), and their joins and quits
    /// outside it (`< from`, `> to`) are not counted.
    pub fn build(people: &[Person], from: i64, to: i64, max_points: usize) -> Self {
        let max_points = max_points.max(2);
        let step = bucket_step(to - from, max_points);
        let start = from.div_euclid(step) * step;
        let n = usize::try_from((to - start + step - 1).div_euclid(step))
            .unwrap_or(0)
            .clamp(1, max_points);
        // Joins and quits in `[from, to]`: the last quit of a report is its end, and
        // counts in the last bucket.
        let bucket = |t: i64| -> Option<usize> {
            if t < from || t > to {
                return None;
            }
            usize::try_from((t - start) / step)
                .ok()
                .map(|i| i.min(n - 1))
        };

        let mut joins = vec![0u32; n];
        let mut leaves = vec![0u32; n];
        // Each person's sessions merged into disjoint spans, as +1 / −1 steps of the count.
        let mut steps: Vec<(i64, i32)> = Vec::new();
        for p in people {
            for s in &p.sessions {
                if let Some(i) = bucket(s.join) {
                    joins[i] += 1;
                }
                if let Some(i) = s.quit.and_then(bucket) {
                    leaves[i] += 1;
                }
            }
            for (a, b) in merged_spans(p) {
                steps.push((a, 1));
                steps.push((b, -1));
            }
        }
        // At one instant leaves go first: back-to-back sessions of two people never count
        // both, and the count is never higher than at either side of the instant.
        steps.sort_unstable();

        let mut present = vec![0u32; n];
        let mut current: i64 = 0;
        let mut k = 0;
        for (i, slot) in present.iter_mut().enumerate() {
            let b0 = (start + i as i64 * step).max(from);
            let b1 = (start + (i as i64 + 1) * step).min(to);
            // The count at the bucket's first instant…
            while k < steps.len() && steps[k].0 <= b0 {
                current += i64::from(steps[k].1);
                k += 1;
            }
            let mut peak = current;
            // …and after every change inside it.
            while k < steps.len() && steps[k].0 < b1 {
                current += i64::from(steps[k].1);
                peak = peak.max(current);
                k += 1;
            }
            *slot = u32::try_from(peak.max(0)).unwrap_or(u32::MAX);
        }
        Self {
            start,
            step,
            present,
            joins,
            leaves,
        }
    }

    /// The bucket with the most people in the meeting (the first of equals), if anyone was.
    pub fn peak(&self) -> Option<(usize, u32)> {
        let (i, &n) = self
            .present
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(&a.0)))?;
        (n > 0).then_some((i, n))
    }
}

/// The smallest step of [`STEPS`] (then whole days) that covers `span` in fewer than
/// `max_points` buckets (flooring the start to a whole step may add one).
fn bucket_step(span: i64, max_points: usize) -> i64 {
    let max = i64::try_from(max_points).unwrap_or(i64::MAX).max(2);
    let span = span.max(1);
    let fits = |step: i64| (span + step - 1) / step < max;
    STEPS
        .into_iter()
        .find(|&s| fits(s))
        .unwrap_or_else(|| (span / (max - 1) / 86_400 + 1) * 86_400)
}

/// A person's sessions as disjoint `[start, end)` spans (overlapping and back-to-back
/// sessions merged; empty sessions dropped).
fn merged_spans(p: &Person) -> Vec<(i64, i64)> {
    rollcall_core::person_totals::merged(
        p.sessions
            .iter()
            .filter(|s| s.end > s.join)
            .map(|s| (s.join, s.end))
            .collect(),
    )
}

/// How many people spent how long in the meeting: bin `k` is `[k·width, (k+1)·width)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Histogram {
    pub width: i64,
    pub counts: Vec<u32>,
}

impl Histogram {
    /// Time in the meeting (the union of each person's sessions) in at most `max_bins`
    /// round-width bins, the longest stay in the last one. No people, no bins.
    pub fn build(people: &[Person], max_bins: usize) -> Self {
        let max_bins = i64::try_from(max_bins.max(1)).unwrap_or(i64::MAX);
        let longest = people.iter().map(|p| p.in_meeting_secs.max(0)).max();
        let Some(longest) = longest else {
            return Self {
                width: BIN_WIDTHS[0],
                counts: Vec::new(),
            };
        };
        let width = BIN_WIDTHS
            .into_iter()
            .find(|&w| longest / w < max_bins)
            .unwrap_or_else(|| (longest / max_bins / 604_800 + 1) * 604_800);
        let bins = usize::try_from(longest / width + 1).unwrap_or(1);
        let mut counts = vec![0u32; bins];
        for p in people {
            let i = usize::try_from(p.in_meeting_secs.max(0) / width).unwrap_or(0);
            counts[i.min(bins - 1)] += 1;
        }
        Self { width, counts }
    }
}

/// The median time in the meeting (the lower middle of an even count), if anyone came:
/// the histogram's one-number summary, which a few all-day stays do not drag as a mean does.
pub fn median_in_meeting(people: &[Person]) -> Option<i64> {
    let mut secs: Vec<i64> = people.iter().map(|p| p.in_meeting_secs).collect();
    if secs.is_empty() {
        return None;
    }
    let mid = (secs.len() - 1) / 2;
    Some(*secs.select_nth_unstable(mid).1)
}

/// Why a set of people gets lanes in a large report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    /// Named on the command line (`--person`), in the order given.
    Named,
    /// Creator, hosts and co-hosts, by first join.
    Hosts,
    /// The longest time in the meeting first.
    Longest,
    /// The shortest time in the meeting first.
    Shortest,
    /// Still in the meeting, by first join.
    StillIn,
}

impl Pick {
    pub fn title(self) -> &'static str {
        match self {
            Pick::Named => "Chosen",
            Pick::Hosts => "Creator and hosts",
            Pick::Longest => "Longest in the meeting",
            Pick::Shortest => "Shortest in the meeting",
            Pick::StillIn => "Still in the meeting",
        }
    }
}

/// One group of lanes: indexes into the people it was picked from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaneGroup {
    pub pick: Pick,
    pub people: Vec<usize>,
}

/// The lanes of a large report and the names that matched nobody.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lanes {
    /// Non-empty groups only, in [`Pick`]'s order. One person can be in several groups: each
    /// group reads on its own ("the ten longest") and a repeated lane says so.
    pub groups: Vec<LaneGroup>,
    pub unknown: Vec<String>,
}

/// Up to `n` people per group (hosts, longest, shortest, still in the meeting) plus every
/// person `named` (by userid, tmp_openid or key; each name once). Ties go by first join,
/// then key, the people's own order, so the same data always picks the same lanes.
pub fn pick_lanes(people: &[Person], n: usize, named: &[String]) -> Lanes {
    let mut groups = Vec::new();
    let mut unknown = Vec::new();
    let mut chosen: Vec<usize> = Vec::new();
    for name in named {
        let found = people
            .iter()
            .position(|p| p.key == *name || p.userid == *name || p.tmp_openid == *name);
        match found {
            Some(i) if !chosen.contains(&i) => chosen.push(i),
            Some(_) => {}
            None if !unknown.contains(name) => unknown.push(name.clone()),
            None => {}
        }
    }
    let mut push = |pick: Pick, people: Vec<usize>| {
        if !people.is_empty() {
            groups.push(LaneGroup { pick, people });
        }
    };
    push(Pick::Named, chosen);
    if n > 0 {
        let all = 0..people.len();
        push(
            Pick::Hosts,
            all.clone().filter(|&i| people[i].host).take(n).collect(),
        );
        let mut by_time: Vec<usize> = all.clone().collect();
        // Stable: equal times keep the people's order.
        by_time.sort_by_key(|&i| std::cmp::Reverse(people[i].in_meeting_secs));
        push(Pick::Longest, by_time.iter().copied().take(n).collect());
        by_time.sort_by_key(|&i| people[i].in_meeting_secs);
        push(Pick::Shortest, by_time.into_iter().take(n).collect());
        push(
            Pick::StillIn,
            all.filter(|&i| people[i].last_quit.is_none())
                .take(n)
                .collect(),
        );
    }
    Lanes { groups, unknown }
}

#[cfg(test)]
mod tests;
