//! A lean STOMP-over-WebSocket client connection for the load generator: small buffers (so
//! 100,000 of them fit in memory), `TCP_NODELAY`, an optional local address to connect from
//! (loopback has ~28k ephemeral ports per address pair), and frames encoded and parsed with
//! otterdoc's own codec. Reading is cancel-safe, so a connection can be read in a `select!`.

use std::net::{IpAddr, SocketAddr};

use anyhow::{bail, Context};
use futures::{SinkExt, StreamExt};
use otterdoc::stomp::{Command, FrameParser, Parsed, StompFrame};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;

/// One client connection.
pub(crate) struct Conn {
    ws: WebSocketStream<TcpStream>,
    parser: FrameParser,
}

/// A frame with `headers` and an empty body.
pub(crate) fn frame(command: Command, headers: &[(&str, &str)]) -> StompFrame {
    headers
        .iter()
        .fold(StompFrame::new(command), |f, (k, v)| f.with_header(*k, *v))
}

impl Conn {
    /// Opens a WebSocket to `server` (`/ws`), from `local` if given, and completes CONNECT
    /// (STOMP 1.2, no heart-beats).
    pub(crate) async fn open(server: SocketAddr, local: Option<IpAddr>) -> anyhow::Result<Conn> {
        let socket = match server {
            SocketAddr::V4(_) => TcpSocket::new_v4()?,
            SocketAddr::V6(_) => TcpSocket::new_v6()?,
        };
        if let Some(ip) = local {
            socket
                .bind(SocketAddr::new(ip, 0))
                .with_context(|| format!("binding {ip}"))?;
        }
        socket.set_nodelay(true)?;
        let tcp = socket
            .connect(server)
            .await
            .with_context(|| format!("connecting to {server}"))?;
        let mut request = format!("ws://{server}/ws").into_client_request()?;
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", "v12.stomp".parse()?);
        let config = WebSocketConfig::default()
            .read_buffer_size(4096)
            .write_buffer_size(0);
        let (ws, _) = tokio_tungstenite::client_async_with_config(request, tcp, Some(config))
            .await
            .context("WebSocket handshake")?;
        let mut conn = Conn {
            ws,
            parser: FrameParser::new(16 << 20),
        };
        conn.send(&frame(
            Command::Connect,
            &[("accept-version", "1.2"), ("heart-beat", "0,0")],
        ))
        .await?;
        let connected = conn.next().await?;
        if connected.command != Command::Connected {
            bail!("expected CONNECTED, got {connected:?}");
        }
        Ok(conn)
    }

    /// Sends one frame (one WebSocket text message).
    pub(crate) async fn send(&mut self, frame: &StompFrame) -> anyhow::Result<()> {
        let text = Utf8Bytes::try_from(frame.encode()).context("frame is not UTF-8")?;
        self.ws.send(Message::Text(text)).await?;
        Ok(())
    }

    /// The next frame (heart-beats skipped); an error if the connection closed.
    pub(crate) async fn next(&mut self) -> anyhow::Result<StompFrame> {
        loop {
            match self.parser.next_frame()? {
                Some(Parsed::Frame(frame)) => return Ok(frame),
                Some(Parsed::HeartBeat) => continue,
                None => {}
            }
            match self.ws.next().await {
                None => bail!("the server closed the connection"),
                Some(Err(e)) => bail!("WebSocket error: {e}"),
                Some(Ok(Message::Text(t))) => self.parser.push(t.as_bytes()),
                Some(Ok(Message::Binary(b))) => self.parser.push(&b),
                Some(Ok(Message::Close(_))) => bail!("the server closed the connection"),
                Some(Ok(_)) => {}
            }
        }
    }

    /// SUBSCRIBE with a receipt; returns the frames that came before the RECEIPT.
    pub(crate) async fn subscribe(
        &mut self,
        id: &str,
        destination: &str,
        extra: &[(&str, &str)],
    ) -> anyhow::Result<Vec<StompFrame>> {
        let receipt = format!("sub-{id}");
        let mut headers = vec![
            ("id", id),
            ("destination", destination),
            ("receipt", &receipt),
        ];
        headers.extend_from_slice(extra);
        self.send(&frame(Command::Subscribe, &headers)).await?;
        let mut before = Vec::new();
        loop {
            let f = self.next().await?;
            match f.command {
                Command::Receipt if f.header("receipt-id") == Some(receipt.as_str()) => {
                    return Ok(before)
                }
                Command::Error => bail!("SUBSCRIBE failed: {f:?}"),
                _ => before.push(f),
            }
        }
    }

    /// Closes the WebSocket.
    pub(crate) async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}

/// `SEND /app/doc/<doc>` with a JSON body and a receipt.
pub(crate) fn send_frame(doc: &str, body: String, receipt: &str) -> StompFrame {
    StompFrame::new(Command::Send)
        .with_header("destination", format!("/app/doc/{doc}"))
        .with_header("receipt", receipt)
        .with_header("content-type", "application/json")
        .with_body(body)
}
