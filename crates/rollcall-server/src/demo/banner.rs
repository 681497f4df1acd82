//! The start-up banner: what to paste into a shell to call the demo.
//!
//! Its commands are exactly what `rollcall`'s CLI tests run (POSIX sh, curl and sed only),
//! so the banner is checked to work as printed, not just to look right.

use super::directory::{INVISIBLE_USER, VISIBLE_OUTSIDER};
use super::{Demo, AGENTID, CORPID, UPCOMING_COUNT};

/// The start-up banner: where to point curl, with what, at which meetings.
pub fn banner(demo: &Demo, base: &str, ingest_key: &str, admin_key: &str, data: &str) -> String {
    let rule = "=".repeat(78);
    let reused = if demo.reused {
        "  (reused from the data directory)"
    } else {
        ""
    };
    let gettoken = format!(
        "{base}/cgi-bin/gettoken?corpid={CORPID}&corpsecret={}",
        demo.secret
    );
    let list = format!("{base}/cgi-bin/meeting/get_attendee_list?access_token=$TOKEN");
    format!(
        r#"{rule}
 rollcall demo is ready
{rule}
 base URL     {base}
 data         {data}
 corpid       {CORPID}
 corpsecret   {secret}
 agentid      {AGENTID}
 ingest key   {ingest_key}
 admin key    {admin_key}

 Meetings of app {AGENTID}{reused}:
 one-off      {oneoff}  ended; rejoins, two devices, external user, guest, customer_data
 recurring    {recurring}  weekly, 4 past sub-meetings; sub_meetingid is required
 sub-meeting  {sub}  (the latest past occurrence)
 webinar      {webinar}  ended; webinar_role 1 to 4
 big          {big}  ended; {big_sessions} sessions, page with next_cursor
 live         {live}  in progress; joins, quits and state changes every 2 s
 upcoming     {upcoming}  every two weeks from next week ({upcoming_count} times); made with meeting/create
 pending      {pending}  one-off tomorrow; made with meeting/create

 The meeting calls take the same token: POST {base}/cgi-bin/meeting/get_info?access_token=$TOKEN
 with {{"meetingid": "…"}}; also meeting/create, update, cancel and get_user_meetingid
 (e.g. {{"userid": "lisi"}}).

 The app sees 总部 (HQ) and its sub-departments, plus {outsider} by name; {invisible}
 (顾问团, outside the visible range) attends too but is omitted from every listing.

 Try it (POSIX sh; needs only curl and sed):

   TOKEN=$(curl -s '{gettoken}' | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
   curl -s -X POST "{list}" -d '{{"meetingid":"{oneoff}","limit":10}}'
   curl -s -X POST "{list}" -d '{{"meetingid":"{recurring}","sub_meetingid":"{sub}","limit":10}}'
   curl -s -X POST "{list}" -d '{{"meetingid":"{live}"}}'
   curl -s -X POST '{base}/ingest/v1/events' -H 'Authorization: Bearer {ingest_key}' -H 'Content-Type: application/json' -d '[{{"event_id":"curl-1","kind":"join","meetingid":"{live}","session":"curl-s1","at":'"$(date +%s)"',"participant":{{"guest_id":"curl-guest"}},"instance_id":5,"net":"WIFI"}}]'
{rule}"#,
        secret = demo.secret,
        oneoff = demo.oneoff,
        recurring = demo.recurring,
        sub = demo.sub_meetingid,
        webinar = demo.webinar,
        big = demo.big,
        big_sessions = demo.big_sessions,
        live = demo.live,
        upcoming = demo.upcoming,
        upcoming_count = UPCOMING_COUNT,
        pending = demo.pending,
        outsider = VISIBLE_OUTSIDER,
        invisible = INVISIBLE_USER,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn banner_has_everything_to_paste() {
        let demo = Demo {
            secret: "SECRET".into(),
            oneoff: "hyONE".into(),
            recurring: "hyREC".into(),
            sub_meetingid: "1760000000".into(),
            webinar: "hyWEB".into(),
            big: "hyBIG".into(),
            big_sessions: 11262,
            live: "hyLIVE".into(),
            upcoming: "hyUP".into(),
            pending: "hyPEND".into(),
            reused: false,
        };
        let b = banner(&demo, "http://127.0.0.1:8080", "IK", "AK", "/tmp/x");
        for needle in [
            "corpid       wwdemo0000000001",
            "corpsecret   SECRET",
            "agentid      1000002",
            "ingest key   IK",
            "admin key    AK",
            "'http://127.0.0.1:8080/cgi-bin/gettoken?corpid=wwdemo0000000001&corpsecret=SECRET'",
            r#"-d '{"meetingid":"hyONE","limit":10}'"#,
            r#""sub_meetingid":"1760000000""#,
            "Authorization: Bearer IK",
            "11262 sessions",
            "upcoming     hyUP ",
            "pending      hyPEND ",
            "meeting/get_info",
        ] {
            assert!(b.contains(needle), "{needle:?} missing from\n{b}");
        }
    }
}
