//! STOMP over plain TCP (`--stomp-tcp-listen`), as brokers serve it on port 61613, for
//! services that edit documents (importers, bots, bridges with `stomp.py`, Java or Go STOMP
//! clients). The byte stream is the STOMP stream: each read is handed to
//! [`crate::session::run`] as it arrives and each encoded frame is written as it is, so frames,
//! heart-beats (EOLs both ways), authentication (the CONNECT `passcode` or an `Authorization`
//! header: there is no URL to carry a token), limits and errors are those of `/ws`.
//!
//! Its own accept loop (not the HTTP listener's): no HTTP on this port, but the same rules —
//! `TCP_NODELAY`, the connections phase of shutdown, `--max-connections` (a connection over it
//! is answered with an ERROR frame and closed).

use futures::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::codec::{BytesCodec, FramedRead, FramedWrite};

use crate::app::App;
use crate::config::limits::LINGER;
use crate::session::{self, Peer};
use crate::stomp::{server, Inbound};

/// Read buffer of one connection (it grows while a larger chunk arrives).
const READ_BUFFER: usize = 1024;

/// Accepts STOMP connections until the intake phase stops.
pub async fn serve(listener: TcpListener, app: App) {
    let intake = app.shutdown.intake.clone();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = intake.stopped() => break,
        };
        let tcp = match accepted {
            Ok((tcp, _)) => tcp,
            Err(err) => {
                // E.g. out of file descriptors: back off briefly instead of spinning.
                tracing::warn!(error = %err, "STOMP TCP accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        if let Err(err) = tcp.set_nodelay(true) {
            tracing::debug!(error = %err, "cannot set TCP_NODELAY");
        }
        let app = app.clone();
        let phase = app.shutdown.connections.clone();
        phase.spawn(connection(app, tcp));
    }
}

/// Serves one connection: a STOMP session on its bytes, or an ERROR when the server is full.
async fn connection(app: App, mut tcp: TcpStream) {
    if let Err(rejection) = session::admission(&app) {
        let frame = server::error(&rejection.message, None).encode();
        let _ = tokio::time::timeout(LINGER, async {
            let _ = tcp.write_all(&frame).await;
            let _ = tcp.shutdown().await;
        })
        .await;
        return;
    }
    let (read, write) = tcp.into_split();
    let inbound = FramedRead::with_capacity(read, BytesCodec::new(), READ_BUFFER)
        .map(|chunk| chunk.map(|bytes| Inbound::Data(bytes.freeze())))
        // The peer's EOF is its close (the stream then ends).
        .chain(futures::stream::iter([Ok(Inbound::Close)]));
    let outbound = FramedWrite::new(write, BytesCodec::new());
    session::run(app, Peer::default(), Box::pin(inbound), outbound).await;
}
