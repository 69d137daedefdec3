//! The client side of the protocol as a pure state machine: what an editor does with its own
//! edits and with the server's ops so that it converges with the server. This is the classic
//! ot.js discipline — at most one operation in flight (sent, not yet acknowledged), later local
//! edits composed into one buffered operation, and every received operation transformed against
//! both before it is applied locally. No I/O: the caller sends what this returns and feeds in
//! what arrives.
//!
//! The transforms mirror the otterdoc server's tie-break (see [`crate::transform`]): pending
//! local operations are on [`Side::Left`] against a received one, as the server puts an
//! incoming operation against its history.

use thiserror::Error;

use crate::error::OtError;
use crate::operation::Operation;
use crate::transform::{transform, Side};

/// What an editor has that the server has not acknowledged yet.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ClientState {
    /// Everything local is acknowledged.
    #[default]
    Synchronized,
    /// One operation is in flight.
    AwaitingConfirm {
        /// The operation sent, transformed against everything received since.
        outstanding: Operation,
    },
    /// One operation is in flight and later local edits wait in a buffer.
    AwaitingWithBuffer {
        /// The operation sent, transformed against everything received since.
        outstanding: Operation,
        /// Local edits made since, composed, to be sent once `outstanding` is acknowledged.
        buffer: Operation,
    },
}

/// A misuse of the state machine, or operations that do not fit each other.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ClientError {
    /// An acknowledgement arrived while nothing was in flight.
    #[error("acknowledgement with no operation in flight")]
    NothingInFlight,
    /// A local or received operation does not fit the pending ones.
    #[error(transparent)]
    Ot(#[from] OtError),
}

impl ClientState {
    /// A local edit, already applied to the local document. Returns the operation to send now
    /// (when nothing was in flight); otherwise it joins the buffer.
    pub fn local(&mut self, op: Operation) -> Result<Option<Operation>, ClientError> {
        let next = match std::mem::take(self) {
            ClientState::Synchronized => {
                *self = ClientState::AwaitingConfirm {
                    outstanding: op.clone(),
                };
                return Ok(Some(op));
            }
            ClientState::AwaitingConfirm { outstanding } => ClientState::AwaitingWithBuffer {
                outstanding,
                buffer: op,
            },
            ClientState::AwaitingWithBuffer {
                outstanding,
                buffer,
            } => ClientState::AwaitingWithBuffer {
                outstanding,
                buffer: buffer.compose(&op)?,
            },
        };
        *self = next;
        Ok(None)
    }

    /// The server acknowledged the operation in flight. Returns the buffered operation, which
    /// is now in flight and must be sent.
    pub fn ack(&mut self) -> Result<Option<Operation>, ClientError> {
        match std::mem::take(self) {
            ClientState::Synchronized => Err(ClientError::NothingInFlight),
            ClientState::AwaitingConfirm { .. } => Ok(None),
            ClientState::AwaitingWithBuffer { buffer, .. } => {
                *self = ClientState::AwaitingConfirm {
                    outstanding: buffer.clone(),
                };
                Ok(Some(buffer))
            }
        }
    }

    /// An operation of another client arrived (as the server applied it). Returns the operation
    /// to apply to the local document; the pending operations are transformed past it.
    pub fn remote(&mut self, op: &Operation) -> Result<Operation, ClientError> {
        match std::mem::take(self) {
            ClientState::Synchronized => Ok(op.clone()),
            ClientState::AwaitingConfirm { outstanding } => {
                let (outstanding, op) = transform(&outstanding, op, Side::Left)?;
                *self = ClientState::AwaitingConfirm { outstanding };
                Ok(op)
            }
            ClientState::AwaitingWithBuffer {
                outstanding,
                buffer,
            } => {
                let (outstanding, op) = transform(&outstanding, op, Side::Left)?;
                let (buffer, op) = transform(&buffer, &op, Side::Left)?;
                *self = ClientState::AwaitingWithBuffer {
                    outstanding,
                    buffer,
                };
                Ok(op)
            }
        }
    }

    /// The operation in flight, if any.
    pub fn outstanding(&self) -> Option<&Operation> {
        match self {
            ClientState::Synchronized => None,
            ClientState::AwaitingConfirm { outstanding }
            | ClientState::AwaitingWithBuffer { outstanding, .. } => Some(outstanding),
        }
    }

    /// The buffered operation, if any.
    pub fn buffer(&self) -> Option<&Operation> {
        match self {
            ClientState::AwaitingWithBuffer { buffer, .. } => Some(buffer),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(len: usize, pos: usize, del: usize, ins: &str) -> Operation {
        Operation::splice(len, pos, del, ins).unwrap()
    }

    #[test]
    fn walks_the_three_states() {
        let mut c = ClientState::default();
        let a = op(0, 0, 0, "a");
        assert_eq!(c.local(a.clone()), Ok(Some(a.clone())));
        assert_eq!(c.outstanding(), Some(&a));
        assert_eq!(c.local(op(1, 1, 0, "b")), Ok(None));
        assert_eq!(c.local(op(2, 2, 0, "c")), Ok(None));
        assert_eq!(c.buffer(), Some(&op(1, 1, 0, "bc")));
        // Another client's "x" at 0 arrives: ours ("a", then "bc") reaches the server after
        // it, so it goes left of it.
        let applied = c.remote(&op(0, 0, 0, "x")).unwrap();
        assert_eq!(applied, op(3, 3, 0, "x"));
        assert_eq!(c.outstanding(), Some(&op(1, 0, 0, "a")));
        assert_eq!(c.ack(), Ok(Some(op(2, 1, 0, "bc"))));
        assert_eq!(c.ack(), Ok(None));
        assert_eq!(c, ClientState::Synchronized);
        assert_eq!(c.ack(), Err(ClientError::NothingInFlight));
    }
}
