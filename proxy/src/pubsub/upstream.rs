//! A subscribed client's connection to one server: what was sent on it and
//! is still to be confirmed, and the two tasks that read its frames into
//! the client's event queue and write the client's commands to it.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use inmemory::protocol::frame::FrameReader;
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::message::Incoming;
use crate::pool::{Backend, Stream};

use super::subscriptions::Sub;

/// A subscriber connection's read buffer.
const READ_BUFFER: usize = 16 * 1024;

/// A confirmation expected from a server, in the order the server sends them.
pub(super) struct Ack {
    pub(super) sub: Sub,
    pub(super) subscribing: bool,
    /// The client's confirmation waiting for it (`None`: a move, or an unsubscribe).
    pub(super) token: Option<u64>,
}

/// One command sent to a server: a (un)subscribe, or the idle check's PING.
pub(super) struct Sent {
    pub(super) at: Instant,
    pub(super) acks: VecDeque<Ack>,
    /// A PING: its answer is owed instead of confirmations.
    pub(super) ping: bool,
}

/// The client's own connection to one server.
pub(super) struct Upstream {
    pub(super) id: u64,
    pub(super) backend: Arc<Backend>,
    /// The protocol the connection speaks (the client's when it was opened).
    pub(super) proto: u8,
    /// To the task writing to the connection.
    pub(super) tx: mpsc::UnboundedSender<Bytes>,
    pub(super) reader: JoinHandle<()>,
    /// Subscriptions sent to the server and not unsubscribed since; true
    /// once the server confirmed.
    pub(super) held: HashMap<Sub, bool>,
    /// Commands whose confirmations are still to come, oldest first.
    pub(super) sent: VecDeque<Sent>,
    /// When the server last sent anything.
    pub(super) heard: Instant,
    /// Frames the reader queued for the subscriber so far.
    pub(super) read: Arc<AtomicU64>,
    /// Frames the subscriber handled so far: fewer than `read` while some
    /// wait in the queue (a confirmation among them is not overdue).
    pub(super) handled: u64,
}

impl Drop for Upstream {
    fn drop(&mut self) {
        // The writer ends with its channel; once the reader ends too the
        // socket closes, and the server drops the subscriptions.
        self.reader.abort();
    }
}

/// What a subscriber waits for.
pub enum Event {
    /// The frames of one read from subscriber connection `id` (each with
    /// its bytes), in order: one event per read rather than per message.
    Frames(u64, Vec<Incoming>),
    /// Subscriber connection `id` broke.
    Lost(u64, String),
    /// The ring changed.
    Ring,
    /// A confirmation is overdue.
    Overdue,
    /// Time to check the connections that have been quiet.
    Idle,
}

/// Reads a subscriber connection's frames into the client's event queue.
pub(super) async fn read_frames(
    mut r: ReadHalf<Box<dyn Stream>>,
    id: u64,
    tx: mpsc::Sender<Event>,
    read: Arc<AtomicU64>,
) {
    let mut buf = BytesMut::with_capacity(READ_BUFFER);
    let mut frames = FrameReader::new();
    let why = 'conn: loop {
        let mut batch = Vec::new();
        let bad = loop {
            match crate::message::next(&mut frames, &mut buf) {
                Ok(Some(f)) => batch.push(f),
                Ok(None) => break None,
                Err(e) => break Some(format!("bad reply: {e}")),
            }
        };
        if !batch.is_empty() {
            read.fetch_add(batch.len() as u64, Ordering::Release);
            if tx.send(Event::Frames(id, batch)).await.is_err() {
                return;
            }
        }
        if let Some(why) = bad {
            break 'conn why;
        }
        match r.read_buf(&mut buf).await {
            Ok(0) => break "connection closed by the server".to_string(),
            Ok(_) => {}
            Err(e) => break e.to_string(),
        }
    };
    let _ = tx.send(Event::Lost(id, why)).await;
}

/// Writes what the subscriber sends on connection `id` until the
/// subscriber lets the connection go.
pub(super) async fn write_commands(
    mut w: WriteHalf<Box<dyn Stream>>,
    mut rx: mpsc::UnboundedReceiver<Bytes>,
    id: u64,
    tx: mpsc::Sender<Event>,
) {
    while let Some(data) = rx.recv().await {
        if let Err(e) = w.write_all(&data).await {
            let _ = tx.send(Event::Lost(id, e.to_string())).await;
            return;
        }
    }
    let _ = w.shutdown().await;
}
