//! Reads of a meeting's change stamp ([`Store::meeting_stamp`]), shared by the pages that
//! wait for one at the same time (issue 11.1 on PostgreSQL).
//!
//! Each page of a cached meeting costs one store round trip, the stamp read that validates
//! the cache; the scan itself comes from memory. Under load that round trip was the page's
//! cost: every page sent its own, and the database's CPU (on the same two cores as the
//! server and the load) went to answering the same one-row read thousands of times a second.
//!
//! # Why a shared read is still correct
//! A page may use a stamp read only if that read was *sent after the page arrived*: then it
//! sees every commit that preceded the page, by any node (READ COMMITTED takes a snapshot per
//! statement), which is what the page cache's argument needs. So pages join only a read that
//! has not been sent yet. Per meeting, at most [`IN_FLIGHT`] reads are in flight and one
//! waits to be sent: a page joins the waiting read, or makes it (sending it at once if fewer
//! are in flight); the waiting read is sent as soon as one in flight comes back, and pages
//! arriving after that make the next. However many pages ask, a meeting costs at most
//! [`IN_FLIGHT`] reads per round trip, and no page waits for more than one read in flight
//! and its own. A read that fails fails for the pages that joined it, as their own would
//! have (repeating it would cost each its own timeout, one after another).
//!
//! The read is one future, shared by the pages that joined it (`futures`' `Shared`): any of
//! them drives it, so a page that goes away (its client hung up) leaves it to the others.
//!
//! [`Store::meeting_stamp`]: rollcall_store::Store::meeting_stamp

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use futures::future::{BoxFuture, FutureExt, Shared};
use rollcall_store::{MeetingStamp, Store, StoreError, StoreResult};
use tokio::sync::Semaphore;

/// Reads of one meeting in flight at most. With one, a page waits for the read in flight to
/// come back before its own is sent (up to two round trips; ~13% of the CPU idles under `wrk
/// -c16`). Two overlap them, but measured with `wrk` they sent 2.2x the reads (3.3 pages per
/// read instead of ~8) and served no more pages: the database's CPU is on the same cores.
pub const IN_FLIGHT: usize = 1;
/// Meetings whose reads are tracked at most; beyond that, those no page is waiting on go.
const MAX_MEETINGS: usize = 10_000;

type Answer = StoreResult<Option<MeetingStamp>>;
type Read = Shared<BoxFuture<'static, Answer>>;

/// One meeting's reads.
#[derive(Debug)]
struct Reads {
    /// A permit per read in flight (fair: the waiting read is the next to be sent).
    sending: Semaphore,
    /// The read not yet sent, which arriving pages join. Only that read takes it out again
    /// (when it is sent), and a new one is made only while there is none, so whichever read
    /// is here is the one that takes it out.
    waiting: Mutex<Waiting>,
}

#[derive(Default)]
struct Waiting(Option<Read>);

impl std::fmt::Debug for Waiting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Waiting").field(&self.0.is_some()).finish()
    }
}

impl Reads {
    fn new() -> Self {
        Self {
            sending: Semaphore::new(IN_FLIGHT),
            waiting: Mutex::new(Waiting::default()),
        }
    }

    fn waiting(&self) -> MutexGuard<'_, Waiting> {
        // Only swaps of an `Option` happen under this lock; none can be left half done.
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A read of a meeting: wait for a permit, stop being the read pages join, then send. The
/// meeting's [`Reads`] are held weakly (they hold this read while it waits): if they are gone,
/// no page can join any more, and the read is sent at once.
async fn send_read<F>(reads: Weak<Reads>, send: impl FnOnce() -> F) -> Answer
where
    F: Future<Output = Answer>,
{
    let Some(reads) = reads.upgrade() else {
        return send().await;
    };
    let _permit = reads
        .sending
        .acquire()
        .await
        .map_err(|_| StoreError::Unavailable("stamp reads closed".into()))?;
    reads.waiting().0 = None;
    send().await
}

/// The node's shared stamp reads (in its [`PageCache`](super::page_cache::PageCache)).
#[derive(Debug, Default)]
pub struct StampReads {
    meetings: Mutex<HashMap<i64, Arc<Reads>>>,
}

impl StampReads {
    /// Meeting `meeting_key`'s stamp, as a read sent after this call began answers it.
    pub async fn read(&self, store: &Arc<dyn Store>, meeting_key: i64) -> Answer {
        let store = Arc::clone(store);
        self.read_with(meeting_key, move || async move {
            store.meeting_stamp(meeting_key).await
        })
        .await
    }

    /// [`Self::read`], where `send` is the read itself (the tests' stand-in for a store).
    async fn read_with<F>(
        &self,
        meeting_key: i64,
        send: impl FnOnce() -> F + Send + 'static,
    ) -> Answer
    where
        F: Future<Output = Answer> + Send + 'static,
    {
        let reads = self.reads(meeting_key);
        let read = {
            let mut w = reads.waiting();
            match &w.0 {
                Some(r) => r.clone(),
                None => {
                    let r = send_read(Arc::downgrade(&reads), send).boxed().shared();
                    w.0 = Some(r.clone());
                    r
                }
            }
        };
        read.await
    }

    /// The meeting's reads, tracked from now on if they were not.
    fn reads(&self, meeting_key: i64) -> Arc<Reads> {
        // Only inserts and removals happen under this lock; neither can be left half done.
        let mut m = self.meetings.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(r) = m.get(&meeting_key) {
            return Arc::clone(r);
        }
        if m.len() >= MAX_MEETINGS {
            // A meeting dropped while pages wait on it keeps its reads alive for them; the
            // next page starts afresh, which only costs it a read of its own.
            m.retain(|_, r| Arc::strong_count(r) > 1);
            if m.len() >= MAX_MEETINGS {
                m.clear();
            }
        }
        Arc::clone(
            m.entry(meeting_key)
                .or_insert_with(|| Arc::new(Reads::new())),
        )
    }

    /// Meetings tracked now.
    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.meetings
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
#[path = "stamp_reads_tests.rs"]
mod tests;
