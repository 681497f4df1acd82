//! Group commit of concurrent ingest calls.
//!
//! A commit costs what its dirty pages cost: every page it changed is written to the WAL
//! and fsynced. Ingest's keys (event ids, session keys, people) land on random leaves, so a
//! batch of 1,000 events dirties ~1,700 pages of a 100,000-session store (a quarter of
//! the database), and a second batch committed on its own dirties most of the same pages
//! again. Batches that arrive while the writer is busy therefore wait in a queue, and the
//! next writer takes all of them (up to [`MAX_GROUP_EVENTS`]) into one transaction: each is
//! still decided over the state the ones before it left, in arrival order, and every
//! caller's reply waits for the one commit, so what is acknowledged is still durable.
//!
//! Every call queues itself (with a ticket, in arrival order) and then takes the writer
//! lock, and whoever holds it applies groups until its own call's is done: a call whose
//! batch an earlier holder already took finds nothing left of its own and only waits for
//! its reply, and no holder works for calls that came after it longer than one group.
//! If a group fails (any error in any batch rolls it all back), its batches are applied
//! again one transaction each, so a batch's failure is its own and the others commit as
//! they would have alone.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

use r2d2_sqlite::rusqlite::Connection;
use tokio::sync::oneshot;

use rollcall_core::ingest::{Outcome, ResolvedEvent};
use rollcall_store::{StoreError, StoreResult};

use crate::attendance::{self, Batch};

/// At most this many events go into one group transaction (a call is always taken whole,
/// so a group can exceed it by one call). It bounds how long a call waits for the others'
/// work and how large one transaction's dirty set grows. A bound, not a tuned optimum:
/// 8 senders of 1,000-event batches (the README's figure) fit within it.
pub(crate) const MAX_GROUP_EVENTS: usize = 8_000;

/// One queued ingest call: its events, its clock, where its outcomes go.
struct Job {
    ticket: u64,
    events: Vec<ResolvedEvent>,
    applied_at: i64,
    reply: oneshot::Sender<StoreResult<Vec<Outcome>>>,
}

/// The calls waiting for the writer.
#[derive(Default)]
pub(crate) struct Queue {
    inner: Mutex<Waiting>,
}

#[derive(Default)]
struct Waiting {
    jobs: VecDeque<Job>,
    /// The ticket the next call gets.
    next: u64,
}

impl Queue {
    /// Queue a call: its ticket (for [`drain`]) and the receiver its outcomes arrive on
    /// once a writer has committed them (or failed).
    pub(crate) fn push(
        &self,
        events: Vec<ResolvedEvent>,
        applied_at: i64,
    ) -> (u64, oneshot::Receiver<StoreResult<Vec<Outcome>>>) {
        let (reply, rx) = oneshot::channel();
        let mut w = self.lock();
        let ticket = w.next;
        w.next += 1;
        w.jobs.push_back(Job {
            ticket,
            events,
            applied_at,
            reply,
        });
        (ticket, rx)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Waiting> {
        // Only pushes and pops happen under this lock; neither can leave it inconsistent.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Take the calls of the next group, oldest first, if the oldest waiting has a ticket
    /// up to `upto`: at least that one, then more while the group stays within
    /// [`MAX_GROUP_EVENTS`].
    fn take(&self, upto: u64) -> Vec<Job> {
        let mut w = self.lock();
        let jobs = &mut w.jobs;
        let mut group = Vec::new();
        if jobs.front().is_none_or(|j| j.ticket > upto) {
            return group;
        }
        let mut events = 0;
        while let Some(next) = jobs.front() {
            if !group.is_empty() && events + next.events.len() > MAX_GROUP_EVENTS {
                break;
            }
            events += next.events.len();
            group.extend(jobs.pop_front());
        }
        group
    }
}

/// With the writer connection held: apply the waiting calls a group at a time, and send
/// each its outcomes, until none up to ticket `upto` (the holder's own call) is left.
/// Returns how many calls each group held.
pub(crate) fn drain(conn: &mut Connection, queue: &Queue, upto: u64) -> Vec<usize> {
    let mut sizes = Vec::new();
    loop {
        let mut group = queue.take(upto);
        if group.is_empty() {
            return sizes;
        }
        sizes.push(group.len());
        let batches: Vec<Batch<'_>> = group.iter().map(Job::batch).collect();
        match attendance::ingest(conn, &batches) {
            Ok(outcomes) => {
                for (job, outcome) in group.into_iter().zip(outcomes) {
                    // A caller that went away (its request was dropped) still had its
                    // events committed; there is no one left to tell.
                    let _ = job.reply.send(Ok(outcome));
                }
            }
            Err(e) if group.len() == 1 => {
                if let Some(job) = group.pop() {
                    let _ = job.reply.send(Err(StoreError::from(e)));
                }
            }
            Err(e) => {
                tracing::warn!(
                    error = ?e,
                    calls = group.len(),
                    "ingest group failed; applying its calls one by one"
                );
                for job in group {
                    let result = attendance::ingest(conn, &[job.batch()])
                        .map(|mut o| o.pop().unwrap_or_default())
                        .map_err(StoreError::from);
                    let _ = job.reply.send(result);
                }
            }
        }
    }
}

impl Job {
    fn batch(&self) -> Batch<'_> {
        Batch {
            events: &self.events,
            applied_at: self.applied_at,
        }
    }
}

#[cfg(test)]
#[path = "group_tests.rs"]
mod tests;
