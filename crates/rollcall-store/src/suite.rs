//! The backend-independent contract tests: what every [`Store`](crate::Store) must do,
//! whatever it is built on. Compiled only with the `suite` feature (and in this crate's own
//! tests), so a production build carries none of it.
//!
//! Each case is an `async fn(Arc<dyn Store>)` that expects a fresh, empty store and panics
//! (with a message) when the backend breaks the contract. Nothing here knows about a
//! particular backend: keys are never assumed to have particular values, only the properties
//! the trait documents.
//!
//! A backend runs every case, each on its own fresh store, with one line in its tests (and
//! `rollcall-store = { workspace = true, features = ["suite"] }` in its dev-dependencies):
//!
//! ```text
//! async fn fresh() -> (std::sync::Arc<dyn rollcall_store::Store>, tempfile::TempDir) { … }
//! rollcall_store::store_contract_tests!(fresh());
//! ```
//!
//! The expression may return any guard beside the store (a temp dir, a database to drop);
//! it is kept alive until the case ends. The calling crate needs `tokio` (with `macros` and
//! `rt-multi-thread`) as a dev-dependency: every case runs on a multi-threaded runtime so the
//! concurrency cases are real.
//!
//! # One list of cases
//! The cases are named once, in [`store_contract_tests!`](crate::store_contract_tests). The
//! same list generates the backends' tests and, here, [`run`] (one entry point per case) and
//! [`CASES`]. The case functions themselves are private to this module and called only
//! from [`run`], and `dead_code` is denied here: a case missing from the list does not
//! compile, so no backend can silently skip it.
//!
//! # Layout
//! - [`fixtures`]: corps, tokens, meetings, events, scans (also for backends' own tests);
//! - `directory`: server secret, directory and token cases;
//! - `meetings`: meeting cases (details, update, cancel, a member's meetings, presence);
//! - `ingest`: ingest cases (join / quit / state, duplicates, out of order, refusals, `seq`);
//! - `scan`: scan cases (order, keyset paging, every filter, extreme bounds);
//! - `snapshots`: reset and snapshot cases (restore exactness, consistency, atomicity);
//! - `callbacks`: an app's callback target stored, listed, snapshotted and reset.
//! - `outbox`: the callback outbox: written with its change, presence transitions, reset /
//!   snapshots;
//! - `claims`: claiming deliveries (per-meeting order, leases), outcomes, the history bound,
//!   concurrent claimers;
//! - `dedupe`: the dedupe window (pruning by age, beside ingest, through snapshots).
//! - `person_totals`: get_info's aggregates maintained at ingest, against the sessions
//!   folded (out of order, overlapping devices, duplicates, refusals, recurring meetings,
//!   reset and snapshots).
#![deny(dead_code)]

pub mod fixtures;

mod callbacks;
mod claims;
mod dedupe;
mod directory;
mod ingest;
mod meetings;
mod outbox;
mod person_totals;
mod scan;
mod snapshots;

/// Defines one `#[tokio::test]` per contract case, each on a fresh store from `$fresh`, an
/// expression evaluating to a future of `(Arc<dyn Store>, guard)`.
///
/// It also holds the one list of cases (`@with`), which it hands to the arm named after it:
/// `@tests` (a backend's tests) or `@run` (this crate's [`suite::run`](crate::suite::run)).
#[macro_export]
macro_rules! store_contract_tests {
    ($fresh:expr) => {
        $crate::store_contract_tests!(@with [$fresh] tests);
    };
    (@with [$($args:tt)*] $then:ident) => {
        $crate::store_contract_tests!(@$then [$($args)*]
            directory::server_secret_keeps_the_first_candidate,
            directory::put_corp_round_trips_in_a_stable_order,
            directory::put_corp_replaces_and_bumps_the_directory_version,
            directory::token_for_app_reuses_the_valid_token,
            directory::token_for_app_issues_a_new_token_after_expiry,
            directory::token_for_app_agrees_under_concurrency,
            directory::token_by_hash_finds_tokens_expired_or_not,
            meetings::create_meeting_assigns_keys,
            meetings::create_meeting_refuses_a_taken_meetingid,
            meetings::meetings_of_lists_an_apps_meetings_newest_first,
            meetings::create_meeting_keeps_details,
            meetings::meetingid_by_code_finds_the_apps_newest,
            meetings::owned_meeting_finds_only_the_apps_own,
            meetings::update_meeting_replaces_the_changeable_parts,
            meetings::cancel_meeting_is_final_and_keeps_sessions,
            meetings::user_meetings_lists_admin_and_invitees_by_span,
            meetings::user_meetings_pages_by_keyset_and_follows_updates,
            meetings::presence_reports_each_sub_meeting,
            meetings::ping_and_last_seq_of_unknown_meetings,
            ingest::ingest_join_quit_and_state,
            ingest::ingest_duplicates_change_nothing,
            ingest::duplicates_anywhere_in_a_large_batch_are_caught,
            ingest::a_refused_join_is_not_recorded_so_a_corrected_resend_applies,
            ingest::quit_before_join_is_applied_when_the_join_arrives,
            ingest::state_before_join_is_applied_when_the_join_arrives,
            ingest::a_quit_before_the_join_time_is_refused,
            ingest::events_for_unknown_meetings_are_refused,
            ingest::seq_increases_strictly_across_batches,
            ingest::concurrent_ingest_keeps_seq_snapshots_stable,
            ingest::a_mixed_batch_applies_the_good_and_reports_the_bad,
            scan::scan_orders_by_join_time_then_seq,
            scan::scan_pages_by_keyset_exactly_once,
            scan::scan_filters_by_seq_range,
            scan::scan_filters_by_join_max,
            scan::scan_keeps_sub_meetings_apart,
            scan::scan_accepts_extreme_bounds,
            scan::change_stamp_moves_with_every_write,
            scan::meeting_stamp_moves_with_every_write_and_never_repeats,
            snapshots::snapshots_save_list_restore_and_delete,
            snapshots::snapshots_unknown_names_are_not_found,
            snapshots::reset_empties_the_store_and_keeps_the_secret,
            snapshots::a_snapshot_taken_during_ingest_is_consistent,
            snapshots::a_restore_is_seen_whole_by_a_concurrent_reader,
            callbacks::an_apps_callback_is_stored_snapshotted_and_reset,
            outbox::meeting_changes_write_callbacks_only_when_they_happen,
            outbox::ingest_writes_presence_transitions_for_apps_with_a_target,
            outbox::presence_transitions_follow_each_sub_meeting,
            claims::claim_gives_each_meeting_its_due_unleased_head,
            claims::finish_records_retry_give_up_and_delivery,
            claims::finished_history_is_bounded,
            outbox::reset_and_snapshots_treat_the_outbox_as_state,
            claims::concurrent_claimers_never_share_a_row_and_keep_order,
            dedupe::prune_applied_forgets_records_older_than_the_cut_only,
            dedupe::pruning_beside_ingest_loses_nothing,
            dedupe::snapshots_keep_when_each_record_was_applied,
            person_totals::person_totals_follow_joins_and_quits_in_any_order,
            person_totals::person_totals_keep_the_open_state_of_each_person,
            person_totals::person_totals_of_recurring_meetings_union_sub_meetings,
            person_totals::person_totals_are_state_for_reset_and_snapshots,
        );
    };
    (@tests [$fresh:expr] $($module:ident :: $case:ident),+ $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let (store, _guard) = $fresh.await;
                $crate::suite::run::$case(store).await;
            }
        )+
    };
    (@run [] $($module:ident :: $case:ident),+ $(,)?) => {
        /// One entry point per contract case, generated from the list: the cases' only
        /// callers.
        pub mod run {
            $(
                #[allow(missing_docs)]
                pub async fn $case(store: ::std::sync::Arc<dyn $crate::Store>) {
                    super::$module::$case(store).await;
                }
            )+
        }

        /// The name of every contract case, in the order the list gives them.
        pub const CASES: &[&str] = &[$(stringify!($case)),+];
    };
}

crate::store_contract_tests!(@with [] run);

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    /// The list names each case once (a case left out would not compile: see the module
    /// docs).
    #[test]
    fn the_one_list_names_each_case_once() {
        let unique: BTreeSet<&str> = super::CASES.iter().copied().collect();
        assert_eq!(unique.len(), super::CASES.len(), "{:?}", super::CASES);
        assert!(super::CASES.len() > 20, "{:?}", super::CASES);
    }
}
