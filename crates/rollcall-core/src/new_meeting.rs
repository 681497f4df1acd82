//! What a store makes of a [`NewMeeting`]: the sub-meeting keys it assigns and the
//! [`Meeting`] `create_meeting` returns, so every backend numbers and answers alike.
//!
//! The store assigns only the meeting's own key (its database identity); everything else
//! follows from the request here.

use crate::model::{Meeting, NewMeeting, SubMeeting};

impl NewMeeting {
    /// The sub-meetings with the keys the store gives them: 1, 2, … in the order given. A
    /// sub-meeting keeps its key for good (sessions and cursors refer to it).
    pub fn keyed_sub_meetings(&self) -> Vec<SubMeeting> {
        (1_i64..)
            .zip(&self.sub_meetings)
            .map(|(key, (sub_meetingid, start_time, end_time))| SubMeeting {
                key,
                sub_meetingid: sub_meetingid.clone(),
                start_time: *start_time,
                end_time: *end_time,
            })
            .collect()
    }

    /// The meeting as stored under `key`: as requested, not cancelled, its sub-meetings keyed
    /// by [`Self::keyed_sub_meetings`]. Its span and people are those of the request.
    pub fn stored(&self, key: i64) -> Meeting {
        Meeting {
            key,
            meetingid: self.meetingid.clone(),
            meeting_code: self.meeting_code.clone(),
            owner: self.owner.clone(),
            meeting_type: self.meeting_type,
            title: self.title.clone(),
            meeting_start: self.meeting_start,
            meeting_duration: self.meeting_duration,
            admin_userid: self.admin_userid.clone(),
            sub_meetings: self.keyed_sub_meetings(),
            details: self.details.clone(),
            cancelled: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::model::{AppRef, MeetingType, NewMeeting};

    fn new() -> NewMeeting {
        NewMeeting {
            meetingid: "hy-1".into(),
            meeting_code: "123".into(),
            owner: AppRef {
                corpid: "ww".into(),
                agentid: 1,
            },
            meeting_type: MeetingType::Recurring,
            title: "weekly".into(),
            meeting_start: 1_000,
            meeting_duration: 100,
            admin_userid: Some("alice".into()),
            sub_meetings: vec![
                ("1000".into(), 1_000, 1_100),
                ("900".into(), 900, 950),
                ("9000".into(), 9_000, 9_100),
            ],
            details: Default::default(),
        }
    }

    #[test]
    fn sub_meetings_are_keyed_in_the_order_given() {
        let m = new();
        let keyed = m.keyed_sub_meetings();
        let got: Vec<(i64, &str, i64, i64)> = keyed
            .iter()
            .map(|s| (s.key, s.sub_meetingid.as_str(), s.start_time, s.end_time))
            .collect();
        assert_eq!(
            got,
            [
                (1, "1000", 1_000, 1_100),
                (2, "900", 900, 950),
                (3, "9000", 9_000, 9_100)
            ]
        );
    }

    #[test]
    fn the_stored_meeting_is_the_request_under_its_key() {
        let n = new();
        let m = n.stored(42);
        assert_eq!(
            (m.key, m.meetingid.as_str(), m.cancelled),
            (42, "hy-1", false)
        );
        assert_eq!(m.sub_meetings, n.keyed_sub_meetings());
        assert_eq!(
            (m.span_start(), m.span_end()),
            (n.span_start(), n.span_end())
        );
        assert_eq!((m.span_start(), m.span_end()), (900, 9_100));
        assert_eq!(m.people(), ["alice"]);
        let mut one_off = n.clone();
        one_off.meeting_type = MeetingType::OneOff;
        one_off.sub_meetings.clear();
        let m = one_off.stored(1);
        assert!(m.sub_meetings.is_empty());
        assert_eq!((m.span_start(), m.span_end()), (1_000, 1_100));
    }
}
