//! What the frames mean: client frames turned into typed [`ClientCommand`]s (checking the
//! headers each command requires), and one builder per server frame (CONNECTED, RECEIPT,
//! ERROR, MESSAGE), so every frame of a kind is built the same way in one place.

use bytes::Bytes;

use super::frame::{Command, StompFrame};

/// A client frame the session cannot accept: answered with an ERROR (carrying the frame's
/// `receipt` as `receipt-id`, when it had one), then the connection closes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// What is wrong, for the ERROR's `message` header.
    pub message: String,
    /// The offending frame's `receipt` header.
    pub receipt: Option<String>,
    /// More headers for the ERROR (e.g. `version` when no version is common).
    pub headers: Vec<(String, String)>,
}

impl Violation {
    /// A violation by a frame whose receipt is `receipt`.
    pub fn new(message: impl Into<String>, receipt: Option<&str>) -> Self {
        Violation {
            message: message.into(),
            receipt: receipt.map(str::to_owned),
            headers: Vec::new(),
        }
    }

    /// Adds a header to the ERROR.
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }
}

/// CONNECT (or STOMP) headers the server reads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Connect {
    /// `accept-version`.
    pub accept_version: Option<String>,
    /// `heart-beat`.
    pub heart_beat: Option<String>,
    /// `passcode` (otterdoc reads a token here, as STOMP brokers read passwords).
    pub passcode: Option<String>,
    /// `Authorization` (any case), e.g. `Bearer <token>`, as stompjs' `connectHeaders` send it.
    pub authorization: Option<String>,
    /// `receipt`.
    pub receipt: Option<String>,
    /// `otterdoc-peer`: the connecting client is another otterdoc node of that name (it must
    /// prove it with the peer secret as `passcode`).
    pub peer: Option<String>,
}

/// The CONNECT header naming a connecting node ([`Connect::peer`]).
pub const PEER_HEADER: &str = "otterdoc-peer";
/// The SEND header naming the user a node forwards a submission for ([`Send::user`]).
pub const USER_HEADER: &str = "otterdoc-user";

/// A SEND.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Send {
    /// `destination`.
    pub destination: String,
    /// `transaction`, if the SEND belongs to one.
    pub transaction: Option<String>,
    /// `receipt`.
    pub receipt: Option<String>,
    /// `otterdoc-user`: the user a node forwards this for (honoured from nodes only).
    pub user: Option<String>,
    /// The body.
    pub body: Bytes,
}

/// A SUBSCRIBE.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subscribe {
    /// `id`.
    pub id: String,
    /// `destination`.
    pub destination: String,
    /// `version`: the last version the subscriber already has (otterdoc's catch-up header).
    pub version: Option<String>,
    /// `ack`: whether MESSAGE frames carry an `ack` header (`client`, `client-individual`)
    /// or not (`auto`, the default).
    pub client_ack: bool,
    /// `receipt`.
    pub receipt: Option<String>,
}

/// A client frame with the headers its command requires.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientCommand {
    /// CONNECT or STOMP.
    Connect(Connect),
    /// SEND.
    Send(Send),
    /// SUBSCRIBE.
    Subscribe(Subscribe),
    /// UNSUBSCRIBE `id`.
    Unsubscribe {
        /// The subscription.
        id: String,
        /// `receipt`.
        receipt: Option<String>,
    },
    /// ACK or NACK (subscriptions are `ack:auto`, so these only need their receipt).
    Acknowledge {
        /// `receipt`.
        receipt: Option<String>,
    },
    /// BEGIN `transaction`.
    Begin {
        /// The transaction.
        transaction: String,
        /// `receipt`.
        receipt: Option<String>,
    },
    /// COMMIT `transaction`.
    Commit {
        /// The transaction.
        transaction: String,
        /// `receipt`.
        receipt: Option<String>,
    },
    /// ABORT `transaction`.
    Abort {
        /// The transaction.
        transaction: String,
        /// `receipt`.
        receipt: Option<String>,
    },
    /// DISCONNECT.
    Disconnect {
        /// `receipt`.
        receipt: Option<String>,
    },
}

impl ClientCommand {
    /// Reads a client frame, or says why it is not one the server accepts.
    pub fn from_frame(frame: StompFrame) -> Result<ClientCommand, Violation> {
        let receipt = frame.header("receipt").map(str::to_owned);
        let optional = |name: &str| frame.header(name).map(str::to_owned);
        let required = |name: &str| {
            frame.header(name).map(str::to_owned).ok_or_else(|| {
                Violation::new(
                    format!("{} frame without a {name} header", frame.command.as_str()),
                    receipt.as_deref(),
                )
            })
        };
        let command = match frame.command {
            Command::Connect | Command::Stomp => ClientCommand::Connect(Connect {
                accept_version: optional("accept-version"),
                heart_beat: optional("heart-beat"),
                passcode: optional("passcode"),
                authorization: frame
                    .headers
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case("authorization"))
                    .map(|(_, v)| v.clone()),
                receipt,
                peer: optional(PEER_HEADER),
            }),
            Command::Send => ClientCommand::Send(Send {
                destination: required("destination")?,
                transaction: optional("transaction"),
                receipt,
                user: optional(USER_HEADER),
                body: frame.body.clone(),
            }),
            Command::Subscribe => ClientCommand::Subscribe(Subscribe {
                id: required("id")?,
                destination: required("destination")?,
                version: optional("version"),
                client_ack: match frame.header("ack") {
                    None | Some("auto") => false,
                    Some("client" | "client-individual") => true,
                    Some(other) => {
                        return Err(Violation::new(
                            format!(
                                "invalid ack mode {other:?}: use auto, client or client-individual"
                            ),
                            receipt.as_deref(),
                        ))
                    }
                },
                receipt,
            }),
            Command::Unsubscribe => ClientCommand::Unsubscribe {
                id: required("id")?,
                receipt,
            },
            Command::Ack | Command::Nack => ClientCommand::Acknowledge { receipt },
            Command::Begin => ClientCommand::Begin {
                transaction: required("transaction")?,
                receipt,
            },
            Command::Commit => ClientCommand::Commit {
                transaction: required("transaction")?,
                receipt,
            },
            Command::Abort => ClientCommand::Abort {
                transaction: required("transaction")?,
                receipt,
            },
            Command::Disconnect => ClientCommand::Disconnect { receipt },
            server
            @ (Command::Connected | Command::Message | Command::Receipt | Command::Error) => {
                return Err(Violation::new(
                    format!(
                        "{} is a server frame; a client may not send it",
                        server.as_str()
                    ),
                    receipt.as_deref(),
                ))
            }
        };
        Ok(command)
    }

    /// The command's name on the wire, for messages about it.
    pub fn name(&self) -> &'static str {
        match self {
            ClientCommand::Connect(_) => "CONNECT",
            ClientCommand::Send(_) => "SEND",
            ClientCommand::Subscribe(_) => "SUBSCRIBE",
            ClientCommand::Unsubscribe { .. } => "UNSUBSCRIBE",
            ClientCommand::Acknowledge { .. } => "ACK",
            ClientCommand::Begin { .. } => "BEGIN",
            ClientCommand::Commit { .. } => "COMMIT",
            ClientCommand::Abort { .. } => "ABORT",
            ClientCommand::Disconnect { .. } => "DISCONNECT",
        }
    }

    /// The frame's `receipt` header.
    pub fn receipt(&self) -> Option<&str> {
        match self {
            ClientCommand::Connect(c) => c.receipt.as_deref(),
            ClientCommand::Send(s) => s.receipt.as_deref(),
            ClientCommand::Subscribe(s) => s.receipt.as_deref(),
            ClientCommand::Unsubscribe { receipt, .. }
            | ClientCommand::Acknowledge { receipt }
            | ClientCommand::Begin { receipt, .. }
            | ClientCommand::Commit { receipt, .. }
            | ClientCommand::Abort { receipt, .. }
            | ClientCommand::Disconnect { receipt } => receipt.as_deref(),
        }
    }
}

/// What CONNECTED tells the client.
#[derive(Clone, Debug)]
pub struct Connected<'a> {
    /// The negotiated STOMP version.
    pub version: &'a str,
    /// The server's heart-beat offer `(cx, cy)`.
    pub heart_beat: (u64, u64),
    /// The session id.
    pub session: &'a str,
    /// The user the session acts as.
    pub user: &'a str,
    /// The optional features the server has (the `features` header, comma-separated).
    pub features: &'a [&'a str],
}

/// Builders of every frame the server sends.
pub mod server {
    use super::*;

    /// The `server` header of CONNECTED.
    pub const SERVER: &str = concat!("otterdoc/", env!("CARGO_PKG_VERSION"));

    /// CONNECTED.
    pub fn connected(c: &Connected<'_>) -> StompFrame {
        StompFrame::new(Command::Connected)
            .with_header("version", c.version)
            .with_header(
                "heart-beat",
                format!("{},{}", c.heart_beat.0, c.heart_beat.1),
            )
            .with_header("session", c.session)
            .with_header("server", SERVER)
            .with_header("user-name", c.user)
            .with_header("features", c.features.join(","))
    }

    /// RECEIPT for `receipt_id`.
    pub fn receipt(receipt_id: &str) -> StompFrame {
        StompFrame::new(Command::Receipt).with_header("receipt-id", receipt_id)
    }

    /// ERROR with `message` as its `message` header and text body, naming the offending
    /// frame's receipt when there is one. The server closes the connection after it.
    pub fn error(message: &str, receipt_id: Option<&str>) -> StompFrame {
        let mut frame = StompFrame::new(Command::Error).with_header("message", message);
        if let Some(receipt) = receipt_id {
            frame = frame.with_header("receipt-id", receipt);
        }
        frame
            .with_header("content-type", "text/plain")
            .with_body(message.to_owned())
    }

    /// ERROR for a [`Violation`].
    pub fn violation(v: &Violation) -> StompFrame {
        let mut frame = error(&v.message, v.receipt.as_deref());
        // Before the body's content-type, so they read naturally; order is not significant.
        for (name, value) in &v.headers {
            frame = frame.with_header(name.clone(), value.clone());
        }
        frame
    }

    /// MESSAGE of subscription `subscription` with a JSON `body`.
    pub fn message(
        destination: &str,
        subscription: &str,
        message_id: &str,
        body: impl Into<Bytes>,
    ) -> StompFrame {
        StompFrame::new(Command::Message)
            .with_header("destination", destination)
            .with_header("subscription", subscription)
            .with_header("message-id", message_id)
            .with_header("content-type", "application/json")
            .with_body(body)
    }

    /// [`message`], with the `ack` header a subscription with `ack:client` or
    /// `ack:client-individual` needs (its value is the message id, which ACK/NACK name).
    pub fn message_acked(
        destination: &str,
        subscription: &str,
        message_id: &str,
        client_ack: bool,
        body: impl Into<Bytes>,
    ) -> StompFrame {
        let frame = message(destination, subscription, message_id, body);
        if client_ack {
            frame.with_header("ack", message_id)
        } else {
            frame
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(command: Command, headers: &[(&str, &str)]) -> StompFrame {
        headers
            .iter()
            .fold(StompFrame::new(command), |f, (k, v)| f.with_header(*k, *v))
    }

    #[test]
    fn required_headers_are_checked_and_name_the_receipt() {
        let err =
            ClientCommand::from_frame(frame(Command::Subscribe, &[("receipt", "r1")])).unwrap_err();
        assert_eq!(err.message, "SUBSCRIBE frame without a id header");
        assert_eq!(err.receipt.as_deref(), Some("r1"));
        let err = ClientCommand::from_frame(frame(Command::Message, &[])).unwrap_err();
        assert_eq!(
            err.message,
            "MESSAGE is a server frame; a client may not send it"
        );
        let ok = ClientCommand::from_frame(frame(
            Command::Send,
            &[("destination", "/app/doc/a"), ("receipt", "7")],
        ))
        .unwrap();
        assert_eq!(ok.receipt(), Some("7"));
        assert_eq!(ok.name(), "SEND");
    }

    #[test]
    fn error_frames_carry_message_body_and_receipt() {
        let f = server::error("boom", Some("r9"));
        assert_eq!(f.header("message"), Some("boom"));
        assert_eq!(f.header("receipt-id"), Some("r9"));
        assert_eq!(&f.body[..], b"boom");
    }
}
