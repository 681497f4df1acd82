//! `rollcall report`: one self-contained HTML file about a meeting's attendance.
//!
//! The command is glue: flags → every page through `rollcall-client` → [`Report::build`] →
//! [`rollcall_report::render_with`] (`--lanes`, `--person`) in the machine's time zone → the
//! file. What the report says
//! and how it is drawn (the per-person model on core's attendance rule, the HTML and its
//! SVG timeline) is the `rollcall-report` crate, tested there without a network.

use anyhow::Context;
use futures::TryStreamExt;
use rollcall_client::Attendee;
use rollcall_report::{Local, Meta, Options, Report};

use crate::attendees::{self, Progress};
use crate::cli::ReportArgs;

/// `rollcall report`.
pub async fn run(args: ReportArgs) -> anyhow::Result<()> {
    let client = attendees::client(&args.api)?;
    let req = attendees::request(&args.listing, None);
    let progress = Progress::new("reading");
    let list: Vec<Attendee> = client
        .attendee_pages(req)
        .map_ok(|page| {
            progress.page(page.attendees.len());
            page.attendees
        })
        .try_concat()
        .await?;
    progress.finish();
    let as_of = match args.as_of {
        Some(t) => i64::from(t),
        None => jiff::Timestamp::now().as_second(),
    };
    let meta = Meta {
        meetingid: args.listing.meeting.clone(),
        sub_meetingid: args.listing.sub_meeting.clone(),
        as_of,
    };
    let report = Report::build(meta, &list)?;
    let opts = Options {
        lanes: args.lanes,
        people: args.people.clone(),
        ..Options::default()
    };
    let large = report.people.len() > opts.full_timeline_max;
    if large {
        // A name that matches nobody is a typo the reader should hear about now, not find
        // as a line in the file.
        let lanes = rollcall_report::overview::pick_lanes(&report.people, 0, &opts.people);
        for name in &lanes.unknown {
            eprintln!("rollcall: warning: --person {name}: no one of that userid or tmp_openid in this listing");
        }
    } else if !opts.people.is_empty() {
        eprintln!(
            "rollcall: note: {} people: every one has a lane, --person is not needed",
            report.people.len()
        );
    }
    let html = rollcall_report::render_with(&report, &Local::system(), &opts);
    std::fs::write(&args.out, &html).with_context(|| format!("writing {}", args.out.display()))?;
    eprintln!(
        "rollcall: wrote {} ({} people, {} sessions, {} KB, {})",
        args.out.display(),
        report.people.len(),
        report.sessions,
        html.len().div_ceil(1000),
        if large {
            "the large layout"
        } else {
            "a lane per person"
        }
    );
    Ok(())
}
