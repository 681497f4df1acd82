//! The shared stamp reads: pages that arrive while a read waits to be sent share it, none
//! takes a read sent before it arrived, a failure answers only the pages of its read, and the
//! tracking is bounded.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rollcall_store::{MeetingStamp, StoreError};
use tokio::sync::Semaphore;

use super::*;

/// A stand-in store: the n-th read sent answers stamp n (or fails, if `fail`), once the
/// gate lets it through.
struct Fake {
    sent: AtomicU64,
    gate: Semaphore,
    fail: bool,
}

impl Fake {
    fn new(fail: bool) -> Arc<Self> {
        Arc::new(Self {
            sent: AtomicU64::new(0),
            gate: Semaphore::new(0),
            fail,
        })
    }

    async fn send(self: Arc<Self>) -> Answer {
        let n = self.sent.fetch_add(1, Ordering::SeqCst) + 1;
        self.gate.acquire().await.expect("gate").forget();
        if self.fail {
            return Err(StoreError::Unavailable(format!("read {n}")));
        }
        Ok(Some(MeetingStamp {
            stamp: n,
            last_seq: 0,
        }))
    }

    fn sent(&self) -> u64 {
        self.sent.load(Ordering::SeqCst)
    }
}

/// Let every spawned task run until it waits (the test runtime has one thread).
async fn settle() {
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
}

/// A page's read of meeting `m` through `reads`, spawned.
fn page(reads: &Arc<StampReads>, fake: &Arc<Fake>, m: i64) -> tokio::task::JoinHandle<Answer> {
    let (reads, fake) = (Arc::clone(reads), Arc::clone(fake));
    tokio::spawn(async move { reads.read_with(m, move || fake.send()).await })
}

/// A page's answer; a page still waiting after a few seconds fails the test (rather than
/// hang it): every read it could take was let through.
async fn done(p: tokio::task::JoinHandle<Answer>) -> Result<Answer, tokio::task::JoinError> {
    tokio::time::timeout(std::time::Duration::from_secs(5), p)
        .await
        .expect("the page got no answer")
}

/// IN_FLIGHT pages of meeting 7, one after another: each finds the reads before it sent
/// already, so each sends its own, and every read a meeting may have in flight is taken.
async fn fill(reads: &Arc<StampReads>, fake: &Arc<Fake>) -> Vec<tokio::task::JoinHandle<Answer>> {
    let mut pages = Vec::new();
    for _ in 0..IN_FLIGHT {
        pages.push(page(reads, fake, 7));
        settle().await;
    }
    pages
}

fn stamp(r: Result<Answer, tokio::task::JoinError>) -> u64 {
    r.expect("task").expect("read").expect("a stamp").stamp
}

#[tokio::test]
async fn pages_share_the_read_that_waits_to_be_sent_and_never_one_sent_before_them() {
    let (reads, fake) = (Arc::new(StampReads::default()), Fake::new(false));
    let first = fill(&reads, &fake).await;
    assert_eq!(
        fake.sent(),
        IN_FLIGHT as u64,
        "a read per page while few are in flight"
    );
    // Three more arrive: every read in flight was sent before them, so none may answer
    // them (a commit between its snapshot and their arrival would be missed). They share
    // the one read that waits for a permit.
    let later: Vec<_> = (0..3).map(|_| page(&reads, &fake, 7)).collect();
    settle().await;
    assert_eq!(
        fake.sent(),
        IN_FLIGHT as u64,
        "the next read waits to be sent"
    );
    fake.gate.add_permits(IN_FLIGHT);
    let got: Vec<u64> = futures::future::join_all(first.into_iter().map(done))
        .await
        .into_iter()
        .map(stamp)
        .collect();
    let mut want: Vec<u64> = (1..=IN_FLIGHT as u64).collect();
    let mut sorted = got.clone();
    sorted.sort_unstable();
    want.sort_unstable();
    assert_eq!(sorted, want, "each of the first pages got its own read");
    settle().await;
    assert_eq!(fake.sent(), IN_FLIGHT as u64 + 1, "one read for the three");
    fake.gate.add_permits(1);
    for p in later {
        assert_eq!(stamp(done(p).await), IN_FLIGHT as u64 + 1);
    }
    // Nothing in flight: a page that comes now reads anew, not what the last one answered.
    fake.gate.add_permits(1);
    assert_eq!(
        stamp(done(page(&reads, &fake, 7)).await),
        IN_FLIGHT as u64 + 2
    );
    assert_eq!(fake.sent(), IN_FLIGHT as u64 + 2);
}

#[tokio::test]
async fn a_failed_read_answers_only_the_pages_that_joined_it() {
    let fake = Fake::new(true);
    let reads = Arc::new(StampReads::default());
    let first = fill(&reads, &fake).await;
    let later: Vec<_> = (0..3).map(|_| page(&reads, &fake, 7)).collect();
    settle().await;
    fake.gate.add_permits(IN_FLIGHT + 1);
    let failed = |r: Result<Answer, tokio::task::JoinError>| match r.expect("task") {
        Err(StoreError::Unavailable(m)) => m,
        other => panic!("expected a failure, got {other:?}"),
    };
    for p in first {
        assert_ne!(failed(done(p).await), format!("read {}", IN_FLIGHT + 1));
    }
    for p in later {
        // The three take the failure of the read they joined, not one each.
        assert_eq!(failed(done(p).await), format!("read {}", IN_FLIGHT + 1));
    }
    assert_eq!(fake.sent(), IN_FLIGHT as u64 + 1);
}

#[tokio::test]
async fn a_read_left_by_its_pages_is_still_sent_for_the_next() {
    let (reads, fake) = (Arc::new(StampReads::default()), Fake::new(false));
    let busy = fill(&reads, &fake).await;
    // A page joins the waiting read and goes away (its client hung up).
    let gone = page(&reads, &fake, 7);
    settle().await;
    gone.abort();
    settle().await;
    fake.gate.add_permits(IN_FLIGHT + 1);
    for p in busy {
        stamp(done(p).await);
    }
    // The next page joins that read (it was never sent) and drives it.
    assert_eq!(
        stamp(done(page(&reads, &fake, 7)).await),
        IN_FLIGHT as u64 + 1
    );
}

#[tokio::test]
async fn meetings_are_read_apart_and_their_tracking_is_bounded() {
    let (reads, fake) = (Arc::new(StampReads::default()), Fake::new(false));
    fake.gate.add_permits(MAX_MEETINGS + 10);
    for m in 0..(MAX_MEETINGS as i64 + 10) {
        assert_eq!(stamp(done(page(&reads, &fake, m)).await), m as u64 + 1);
        assert!(reads.tracked() <= MAX_MEETINGS);
    }
}
