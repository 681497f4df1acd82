//! The WeCom meeting calls (SPEC §3, §4), one module per call (as mini-redis's `cmd/*`).
//!
//! Each takes a request already read and checked field by field in
//! [`rollcall_core::meeting_request`], and the [`Caller`](crate::ops::caller::Caller). The
//! checks that need the directory, the clock or the stored meeting come here, with the shared
//! ones in [`crate::ops::access`]; the rules themselves are pure functions of
//! `rollcall_core` ([`recurrence`], [`schedule`], [`plan`], [`cursor`], [`window`]).
//!
//! A member's meeting list holds only the app's own meetings, and another app's meeting code
//! answers like an unknown code.
//!
//! # Layout
//! - [`attendee_list`]: the `meeting/get_attendee_list` call; [`page_cache`]: its rendered
//!   rows, cached under the store's change stamp; [`stamp_reads`]: a meeting's stamp read,
//!   shared by the pages that wait for one together.
//! - [`create`]: the `meeting/create` call.
//! - [`info`]: the `meeting/get_info` call.
//! - [`update`]: the `meeting/update` call.
//! - [`cancel`]: the `meeting/cancel` call.
//! - [`user_meetings`]: the `meeting/get_user_meetingid` call.
//!
//! [`recurrence`]: rollcall_core::recurrence
//! [`schedule`]: rollcall_core::schedule
//! [`plan`]: rollcall_core::plan
//! [`cursor`]: rollcall_core::cursor
//! [`window`]: rollcall_core::window

pub mod attendee_list;
pub mod cancel;
pub mod create;
pub mod info;
pub mod page_cache;
pub mod stamp_reads;
pub mod update;
pub mod user_meetings;
