//! Ingest bodies, as the ingest API reads them: the first byte picks JSON array or NDJSON,
//! the rest is the body; every event it yields is validated. None may panic. The body is
//! also fed to the streaming `Splitter` in two chunks, cut where the second byte says: the
//! server reads bodies in whatever chunks the network gives, so the pieces (and the framing
//! verdict) must not depend on where the cut falls.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rollcall_core::ingest::{parse_event, split_events, Piece, Splitter};

/// The pieces of `body` fed in `chunks`, as owned bytes (`None`: too large), and whether it
/// framed.
fn pieces(chunks: &[&[u8]], ndjson: bool) -> (Vec<Option<Vec<u8>>>, bool) {
    let mut out = Vec::new();
    let mut push = |p: Piece<'_>| {
        out.push(match p {
            Piece::Event { bytes, .. } => Some(bytes.to_vec()),
            Piece::TooLarge => None,
        })
    };
    let mut s = Splitter::new(ndjson);
    let mut framed = true;
    for chunk in chunks {
        if s.feed(chunk, &mut push).is_err() {
            framed = false;
            break;
        }
    }
    if framed {
        framed = s.finish(&mut push).is_ok();
    }
    (out, framed)
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Some((&cut, body)) = rest.split_first() else {
        return;
    };
    let ndjson = mode & 1 == 1;
    if let Ok(items) = split_events(body, ndjson) {
        for item in items.into_iter().flatten() {
            let _ = parse_event(&item);
        }
    }
    let at = usize::from(cut) * body.len() / 255;
    let (whole, whole_ok) = pieces(&[body], ndjson);
    let (split, split_ok) = pieces(&[&body[..at], &body[at..]], ndjson);
    assert_eq!(whole_ok, split_ok, "framing depends on the cut at {at}");
    if whole_ok {
        assert_eq!(whole, split, "pieces depend on the cut at {at}");
    }
});
