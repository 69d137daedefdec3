//! CONNECT negotiation as pure functions: which STOMP version to speak, and how often each
//! side must send heart-beats (STOMP 1.2 §Heart-beating). No I/O, so every rule is unit-tested.

use std::time::Duration;

/// STOMP versions this server speaks, best first.
pub const VERSIONS: [&str; 3] = ["1.2", "1.1", "1.0"];

/// The best version both sides speak, from the client's `accept-version` (absent: 1.0).
pub(super) fn version(accept_version: Option<&str>) -> Result<&'static str, String> {
    let offered = accept_version.unwrap_or("1.0");
    VERSIONS
        .into_iter()
        .find(|v| offered.split(',').any(|o| o.trim() == *v))
        .ok_or_else(|| {
            format!(
                "no common STOMP version: client accepts {offered:?}, server supports {}",
                VERSIONS.join(",")
            )
        })
}

/// Agreed heart-beat timing of one connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct HeartBeats {
    /// Send a heart-beat when nothing was written for this long (`None`: never).
    pub(super) send_every: Option<Duration>,
    /// Close the connection when nothing arrived for this long (`None`: never).
    pub(super) read_timeout: Option<Duration>,
}

/// Heart-beat timing from the server's interval `ours` (ms, 0 = off) and the client's
/// `heart-beat` header `cx,cy` (absent: `0,0`). Each direction runs at the larger of what one
/// side can do and the other wants, and is off if either says 0; the peer is given twice its
/// interval before it counts as gone.
pub(super) fn heart_beats(ours: u64, header: Option<&str>) -> Result<HeartBeats, String> {
    let (client_sends, client_wants) = match header {
        None => (0, 0),
        Some(hb) => parse(hb).ok_or_else(|| format!("invalid heart-beat header {hb:?}"))?,
    };
    let agree = |theirs: u64| (ours != 0 && theirs != 0).then(|| ours.max(theirs));
    Ok(HeartBeats {
        send_every: agree(client_wants).map(Duration::from_millis),
        read_timeout: agree(client_sends).map(|ms| Duration::from_millis(ms.saturating_mul(2))),
    })
}

/// Parses `cx,cy` (two non-negative integers, in ms).
fn parse(value: &str) -> Option<(u64, u64)> {
    let (x, y) = value.split_once(',')?;
    Some((x.trim().parse().ok()?, y.trim().parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_best_common_version() {
        assert_eq!(version(Some("1.0,1.1,1.2")), Ok("1.2"));
        assert_eq!(version(Some("1.1, 1.0")), Ok("1.1"));
        assert_eq!(version(None), Ok("1.0"));
        assert_eq!(
            version(Some("2.0")),
            Err(
                "no common STOMP version: client accepts \"2.0\", server supports 1.2,1.1,1.0"
                    .to_owned()
            )
        );
    }

    #[test]
    fn heart_beats_take_the_larger_interval_and_zero_disables() {
        let ms = |n| Some(Duration::from_millis(n));
        assert_eq!(
            heart_beats(10_000, Some("4000,20000")),
            Ok(HeartBeats {
                send_every: ms(20_000),
                read_timeout: ms(20_000)
            })
        );
        assert_eq!(
            heart_beats(1000, Some("0,500")),
            Ok(HeartBeats {
                send_every: ms(1000),
                read_timeout: None
            })
        );
        let off = HeartBeats {
            send_every: None,
            read_timeout: None,
        };
        assert_eq!(heart_beats(0, Some("100,100")), Ok(off));
        assert_eq!(heart_beats(1000, None), Ok(off));
        assert!(heart_beats(1000, Some("a,b")).is_err());
        assert!(heart_beats(1000, Some("100")).is_err());
    }
}
