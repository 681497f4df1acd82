//! `rollcall attendees`: a meeting's attendance, every page, in the format asked for.
//!
//! Why a command and not a curl loop: following `next_cursor`, renewing the token, backing
//! off on `system busy`, and turning unix-second strings into local time are each easy to
//! get subtly wrong; here they are done once, through `rollcall-client`, against rollcall or
//! WeCom alike.
//!
//! Output goes to stdout as pages arrive (constant memory for any meeting), except `table`,
//! which needs every row to size its columns (with `--follow` it uses fixed widths
//! instead). Progress goes to stderr, and only when stderr is a terminal, so pipes and
//! files get clean data. `--follow` keeps polling with the last `next_cursor`, which
//! rollcall answers with only the sessions stored since (SPEC §3).
//!
//! # Layout
//! - [`run`]: the command (one pass, or follow until SIGINT / SIGTERM).
//! - [`Printer`]: the four formats, streaming.
//! - [`client`], [`request`]: flags → client and first request (shared with `report`).
//! - [`Progress`]: the stderr spinner.

use std::io::{self, IsTerminal, Write};
use std::time::Duration;

use anyhow::Context;
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use rollcall_client::{Attendee, Client, GetAttendeeListRequest};
use rollcall_report::{device_name, role_name, Local};
use unicode_width::UnicodeWidthStr;

use crate::cli::{ApiArgs, AttendeesArgs, Format, ListingArgs};

/// A client for the API the flags name.
pub fn client(api: &ApiArgs) -> anyhow::Result<Client> {
    Client::builder()
        .corp(&api.corpid, api.secret.expose())
        .base_url(&api.base_url)
        .build()
        .context("configuring the API client")
}

/// The first request of the listing the flags describe.
pub fn request(listing: &ListingArgs, page_size: Option<u32>) -> GetAttendeeListRequest {
    GetAttendeeListRequest {
        meetingid: listing.meeting.clone(),
        sub_meetingid: listing.sub_meeting.clone(),
        start_time: listing.since,
        end_time: listing.until,
        cursor: None,
        limit: page_size,
    }
}

/// `rollcall attendees`.
pub async fn run(args: AttendeesArgs) -> anyhow::Result<()> {
    let client = client(&args.api)?;
    let req = request(&args.listing, args.page_size);
    let stdout = io::stdout();
    let mut printer = Printer::new(
        args.format,
        Local::system(),
        args.follow,
        io::BufWriter::new(stdout.lock()),
    );
    let result = if args.follow {
        follow(&client, req, args.interval, &mut printer).await
    } else {
        once(&client, req, &mut printer).await
    };
    match result {
        // `rollcall attendees … | head`: the reader has all it wanted.
        Err(e)
            if e.downcast_ref::<io::Error>()
                .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe) =>
        {
            Ok(())
        }
        other => other,
    }
}

/// Every page once.
async fn once<W: Write>(
    client: &Client,
    req: GetAttendeeListRequest,
    printer: &mut Printer<W>,
) -> anyhow::Result<()> {
    let progress = Progress::new("reading");
    let pages = client.attendee_pages(req);
    futures::pin_mut!(pages);
    while let Some(page) = pages.next().await {
        let page = page?;
        progress.page(page.attendees.len());
        progress.suspend(|| printer.rows(&page.attendees))?;
    }
    progress.finish();
    printer.finish()?;
    Ok(())
}

/// Every page, then new sessions as they join, until SIGINT / SIGTERM. Transient failures
/// (transport, -1 / 45009 beyond the client's retries) are reported and polling goes on
/// from the last cursor; a refusal ends the command.
async fn follow<W: Write>(
    client: &Client,
    mut req: GetAttendeeListRequest,
    interval: Duration,
    printer: &mut Printer<W>,
) -> anyhow::Result<()> {
    let stop = interrupted();
    futures::pin_mut!(stop);
    let progress = Progress::new("reading");
    'passes: loop {
        let pages = client.follow_attendee_pages(req.clone(), interval);
        futures::pin_mut!(pages);
        loop {
            let item = tokio::select! {
                _ = &mut stop => break 'passes,
                item = pages.next() => item,
            };
            match item {
                Some(Ok(page)) => {
                    req.cursor = Some(page.next_cursor.clone());
                    progress.page(page.attendees.len());
                    if !page.has_more {
                        progress.message(&format!("following, every {}s", interval.as_secs_f64()));
                    }
                    progress.suspend(|| printer.rows(&page.attendees))?;
                }
                Some(Err(e)) if e.is_transient() => {
                    progress.suspend(|| eprintln!("rollcall: {e}; retrying in {interval:?}"));
                    tokio::select! {
                        _ = &mut stop => break 'passes,
                        _ = tokio::time::sleep(interval) => continue 'passes,
                    }
                }
                Some(Err(e)) => return Err(e.into()),
                None => break 'passes,
            }
        }
    }
    progress.finish();
    printer.finish()?;
    Ok(())
}

/// Resolves on SIGINT or SIGTERM (so `--follow` closes a JSON array and flushes).
async fn interrupted() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            tokio::select! {
                _ = term.recv() => {},
                _ = int.recv() => {},
            }
            return;
        }
    }
    if tokio::signal::ctrl_c().await.is_err() {
        // No way to be told: follow until killed.
        std::future::pending::<()>().await;
    }
}

/// A spinner on stderr with the count of sessions read; nothing unless stderr is a
/// terminal.
#[derive(Debug)]
pub struct Progress {
    bar: ProgressBar,
    pages: std::cell::Cell<u64>,
}

impl Progress {
    pub fn new(what: &str) -> Self {
        let bar = if io::stderr().is_terminal() {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} {msg}: {pos} sessions ({prefix} requests)")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        } else {
            ProgressBar::hidden()
        };
        bar.set_message(what.to_owned());
        bar.set_prefix("0");
        Self {
            bar,
            pages: std::cell::Cell::new(0),
        }
    }

    pub fn page(&self, sessions: usize) {
        self.pages.set(self.pages.get() + 1);
        self.bar.set_prefix(self.pages.get().to_string());
        self.bar.inc(sessions as u64);
    }

    pub fn message(&self, msg: &str) {
        self.bar.set_message(msg.to_owned());
    }

    /// Run `f` (which writes to the terminal) with the spinner out of the way.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        self.bar.suspend(f)
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// The table's columns.
const COLUMNS: [&str; 10] = [
    "JOIN",
    "QUIT",
    "USERID",
    "TMP_OPENID",
    "DEVICE",
    "ROLE",
    "NET",
    "MIC",
    "CAM",
    "SCREEN",
];

/// With `--follow` rows are printed before the widest is known: these widths fit the usual
/// values (a longer one just pushes its row's later columns right).
const FOLLOW_WIDTHS: [usize; 10] = [19, 19, 16, 26, 7, 12, 4, 3, 3, 6];

/// CSV columns: every attendee field, in WeCom's order, raw.
const CSV_COLUMNS: [&str; 13] = [
    "tmp_openid",
    "userid",
    "join_time",
    "quit_time",
    "instance_id",
    "role",
    "webinar_role",
    "join_type",
    "net",
    "audio_state",
    "video_state",
    "screen_shared_state",
    "customer_data",
];

/// Writes sessions in one of the formats, as they arrive.
#[derive(Debug)]
pub struct Printer<W: Write> {
    format: Format,
    local: Local,
    /// Table rows are printed as they come (fixed widths) rather than at the end.
    streaming: bool,
    out: W,
    /// Whether [`Printer::start`] has written its part.
    started: bool,
    /// JSON array elements so far (the first has no comma before it).
    json_written: usize,
    table: Vec<[String; 10]>,
}

impl<W: Write> Printer<W> {
    pub fn new(format: Format, local: Local, streaming: bool, out: W) -> Self {
        Self {
            format,
            local,
            streaming,
            out,
            started: false,
            json_written: 0,
            table: Vec::new(),
        }
    }

    /// What comes before the first row: the CSV header, `[`, the streaming table's header.
    /// Written with the first page (or at the end), so that a refused call prints nothing
    /// on stdout.
    fn start(&mut self) -> io::Result<()> {
        if self.started {
            return Ok(());
        }
        self.started = true;
        match self.format {
            Format::Csv => self.csv(|w| w.write_record(CSV_COLUMNS))?,
            // Streaming, every element ends its line, so a reader sees it at once.
            Format::Json if self.streaming => self.out.write_all(b"[\n")?,
            Format::Json => self.out.write_all(b"[")?,
            Format::Table if self.streaming => {
                let header = self.header();
                write_row(&mut self.out, &header, &FOLLOW_WIDTHS)?;
            }
            Format::Table | Format::Ndjson => {}
        }
        self.out.flush()
    }

    /// Some rows (a page); written and flushed at once, except a non-streaming table's.
    pub fn rows(&mut self, rows: &[Attendee]) -> io::Result<()> {
        self.start()?;
        match self.format {
            Format::Table => {
                let cells: Vec<[String; 10]> =
                    rows.iter().map(|a| table_cells(a, &self.local)).collect();
                if !self.streaming {
                    self.table.extend(cells);
                    return Ok(());
                }
                for row in &cells {
                    write_row(&mut self.out, row, &FOLLOW_WIDTHS)?;
                }
            }
            Format::Csv => self.csv(|w| {
                for a in rows {
                    w.write_record(csv_record(a))?;
                }
                Ok(())
            })?,
            Format::Json => {
                for a in rows {
                    // `[`, `{…}`, `,{…}`, …, `]` one per line when streaming;
                    // `[{…},` … `{…}]` with the commas at line ends otherwise.
                    match (self.streaming, self.json_written) {
                        (true, 0) => {}
                        (true, _) => self.out.write_all(b",")?,
                        (false, 0) => self.out.write_all(b"\n")?,
                        (false, _) => self.out.write_all(b",\n")?,
                    }
                    serde_json::to_writer(&mut self.out, a)?;
                    if self.streaming {
                        self.out.write_all(b"\n")?;
                    }
                    self.json_written += 1;
                }
            }
            Format::Ndjson => {
                for a in rows {
                    serde_json::to_writer(&mut self.out, a)?;
                    self.out.write_all(b"\n")?;
                }
            }
        }
        self.out.flush()
    }

    /// What comes after the last row: the table, or `]`.
    pub fn finish(&mut self) -> io::Result<()> {
        self.start()?;
        match self.format {
            Format::Table if !self.streaming => {
                let header = self.header();
                let mut widths = [0; 10];
                for row in std::iter::once(&header).chain(&self.table) {
                    for (w, cell) in widths.iter_mut().zip(row) {
                        *w = (*w).max(cell.width());
                    }
                }
                write_row(&mut self.out, &header, &widths)?;
                for row in &self.table {
                    write_row(&mut self.out, row, &widths)?;
                }
            }
            Format::Json if self.streaming => self.out.write_all(b"]\n")?,
            Format::Json => self.out.write_all(b"\n]\n")?,
            Format::Table | Format::Csv | Format::Ndjson => {}
        }
        self.out.flush()
    }

    fn header(&self) -> [String; 10] {
        let zone = self.local.name();
        COLUMNS.map(|c| match c {
            "JOIN" | "QUIT" => format!("{c} ({zone})"),
            _ => c.to_owned(),
        })
    }

    fn csv(
        &mut self,
        f: impl FnOnce(&mut csv::Writer<&mut W>) -> csv::Result<()>,
    ) -> io::Result<()> {
        let mut w = csv::Writer::from_writer(&mut self.out);
        f(&mut w).map_err(io::Error::other)?;
        w.flush()
    }
}

fn write_row(out: &mut impl Write, cells: &[String; 10], widths: &[usize; 10]) -> io::Result<()> {
    let mut line = String::new();
    for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
        if i > 0 {
            line.push_str("  ");
        }
        line.push_str(cell);
        if i + 1 < cells.len() {
            line.extend(std::iter::repeat_n(' ', w.saturating_sub(cell.width())));
        }
    }
    writeln!(out, "{}", line.trim_end())
}

fn table_cells(a: &Attendee, local: &Local) -> [String; 10] {
    let time = |s: &str| match s.parse::<i64>() {
        Ok(t) => local.datetime(t),
        Err(_) => s.to_owned(),
    };
    let flag = |b: bool| if b { "on" } else { "off" }.to_owned();
    [
        time(&a.join_time),
        a.quit_time
            .as_deref()
            .map_or_else(|| "in meeting".to_owned(), time),
        if a.userid.is_empty() {
            "-".to_owned()
        } else {
            a.userid.clone()
        },
        a.tmp_openid.clone(),
        device_name(a.instance_id),
        role_name(a.role),
        a.net.clone().unwrap_or_else(|| "-".to_owned()),
        flag(a.audio_state),
        flag(a.video_state),
        flag(a.screen_shared_state),
    ]
}

fn csv_record(a: &Attendee) -> [String; 13] {
    [
        a.tmp_openid.clone(),
        a.userid.clone(),
        a.join_time.clone(),
        a.quit_time.clone().unwrap_or_default(),
        a.instance_id.to_string(),
        a.role.to_string(),
        a.webinar_role.to_string(),
        a.join_type.to_string(),
        a.net.clone().unwrap_or_default(),
        a.audio_state.to_string(),
        a.video_state.to_string(),
        a.screen_shared_state.to_string(),
        a.customer_data.clone().unwrap_or_default(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::tz::TimeZone;

    fn attendee(userid: &str, join: &str, quit: Option<&str>) -> Attendee {
        Attendee {
            tmp_openid: format!("wo-{userid}"),
            userid: userid.to_owned(),
            join_time: join.to_owned(),
            quit_time: quit.map(str::to_owned),
            instance_id: 8,
            role: 3,
            webinar_role: 0,
            join_type: 1,
            net: quit.is_none().then(|| "WIFI".to_owned()),
            audio_state: true,
            video_state: false,
            screen_shared_state: false,
            customer_data: Some("a,\"b\"".to_owned()),
        }
    }

    fn print(format: Format, streaming: bool, pages: &[&[Attendee]]) -> String {
        let mut out = Vec::new();
        let mut p = Printer::new(format, Local::new(TimeZone::UTC), streaming, &mut out);
        for page in pages {
            p.rows(page).unwrap();
        }
        p.finish().unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn json_is_one_array_across_pages_and_empty_when_nothing() {
        let a = attendee("zhangsan", "1760000000", Some("1760003600"));
        let b = attendee("", "1760000100", None);
        let text = print(
            Format::Json,
            false,
            &[std::slice::from_ref(&a), &[], std::slice::from_ref(&b)],
        );
        let v: Vec<Attendee> = serde_json::from_str(&text).unwrap();
        assert_eq!(v, [a, b]);
        let empty: Vec<Attendee> = serde_json::from_str(&print(Format::Json, false, &[])).unwrap();
        assert!(empty.is_empty());
    }

    #[test]
    fn streaming_json_ends_every_element_on_its_line() {
        let a = attendee("zhangsan", "1760000000", None);
        let text = print(
            Format::Json,
            true,
            &[std::slice::from_ref(&a), std::slice::from_ref(&a)],
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert_eq!(lines[0], "[");
        assert!(lines[2].starts_with(",{"), "{text}");
        let v: Vec<Attendee> = serde_json::from_str(&text).unwrap();
        assert_eq!(v.len(), 2);
        let empty: Vec<Attendee> = serde_json::from_str(&print(Format::Json, true, &[])).unwrap();
        assert!(empty.is_empty());
    }

    #[test]
    fn nothing_is_printed_before_the_first_page() {
        for format in [Format::Csv, Format::Json, Format::Table, Format::Ndjson] {
            let mut out = Vec::new();
            let p = Printer::new(format, Local::new(TimeZone::UTC), true, &mut out);
            drop(p);
            assert!(out.is_empty(), "{format:?}");
        }
    }

    #[test]
    fn ndjson_is_the_wire_objects_one_per_line() {
        let a = attendee("zhangsan", "1760000000", None);
        let text = print(Format::Ndjson, false, &[&[a.clone(), a.clone()]]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0], serde_json::to_string(&a).unwrap());
    }

    #[test]
    fn csv_has_a_header_and_raw_quoted_values() {
        let text = print(
            Format::Csv,
            false,
            &[&[attendee("zhangsan", "1760000000", None)]],
        );
        let mut r = csv::Reader::from_reader(text.as_bytes());
        assert_eq!(r.headers().unwrap().iter().collect::<Vec<_>>(), CSV_COLUMNS);
        let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 1);
        assert_eq!(&rows[0][2], "1760000000");
        assert_eq!(&rows[0][3], "", "no quit_time while in the meeting");
        assert_eq!(&rows[0][12], "a,\"b\"");
        assert_eq!(print(Format::Csv, false, &[]).lines().count(), 1);
    }

    #[test]
    fn table_aligns_wide_characters_and_shows_local_times() {
        let text = print(
            Format::Table,
            false,
            &[&[
                attendee("zhangsan", "1760000000", Some("1760003600")),
                attendee("", "1760000100", None),
            ]],
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[0].starts_with("JOIN (UTC)"), "{text}");
        assert!(lines[1].starts_with("2025-10-09 08:53:20  2025-10-09 09:53:20  zhangsan"));
        assert!(lines[2].contains("in meeting"), "{text}");
        assert!(lines[2].contains("  -  "), "{text}");
        // 小程序 is six columns wide on a terminal: ROLE starts at the same column on every
        // row.
        let col = |l: &str| {
            let i = l.find("creator+host").unwrap();
            l[..i].width()
        };
        assert_eq!(col(lines[1]), col(lines[2]), "{text}");
        assert_eq!(
            col(lines[1]),
            lines[0][..lines[0].find("ROLE").unwrap()].width()
        );
    }

    #[test]
    fn a_streaming_table_prints_its_header_first() {
        let text = print(
            Format::Table,
            true,
            &[&[attendee("zhangsan", "1760000000", None)]],
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("JOIN"));
    }
}
