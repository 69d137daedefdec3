//! The accept loop: every TCP connection gets `TCP_NODELAY` (without it, two small frames
//! written back to back — a RECEIPT and a MESSAGE — wait ~40 ms for the peer's delayed ACK)
//! and is served as HTTP/1.1 with upgrades by hyper, with a deadline for the request head (a
//! client that trickles its headers cannot hold a connection open). Each connection runs in
//! the connections phase of shutdown: on shutdown it finishes the request in flight and
//! closes; a connection already upgraded to a WebSocket is the session's to close.
//!
//! Owning the loop (rather than `warp::serve`) is what lets the server set socket options and
//! run the WebSocket upgrade itself (see `http.rs`), with buffers sized for many idle
//! connections.

use std::sync::Arc;

use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

use crate::app::App;
use crate::http::Service;

/// Accepts connections until the intake phase stops; then stops accepting.
pub async fn serve(listener: TcpListener, app: App, service: Service) {
    let intake = app.shutdown.intake.clone();
    let phase = app.shutdown.connections.clone();
    let service = Arc::new(service);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = intake.stopped() => break,
        };
        let (tcp, peer) = match accepted {
            Ok(pair) => pair,
            Err(err) => {
                // E.g. out of file descriptors: back off briefly instead of spinning.
                tracing::warn!(error = %err, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        if let Err(err) = tcp.set_nodelay(true) {
            tracing::debug!(error = %err, "cannot set TCP_NODELAY");
        }
        let service = service.clone();
        let phase_for_conn = phase.clone();
        let head_timeout = app.config.connect_timeout();
        phase.spawn(async move {
            let svc = hyper::service::service_fn(move |req| {
                let service = service.clone();
                async move { Ok::<_, std::convert::Infallible>(service.handle(req, peer).await) }
            });
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(head_timeout)
                .serve_connection(TokioIo::new(tcp), svc)
                .with_upgrades();
            tokio::pin!(conn);
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(err) = result {
                        tracing::debug!(error = %err, "HTTP connection ended with an error");
                    }
                }
                () = phase_for_conn.stopped() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
    }
}
