//! On-demand moves: a client's command on a key that may still be on a
//! previous owner first moves it to the key's owner on the ring in force.
//!
//! The moves travel on the client's own connections (its protocol, its
//! database, its WATCH connection), so they are ordered after the client's
//! earlier requests to the same servers; the command is forwarded only
//! once they are done. Keys whose owner did not change cost nothing; a key
//! already moved costs one round trip to each previous owner that may hold
//! it (in parallel); a key still to move costs three.
//!
//! Reads of one key are cheaper still ([`Router::read_through`]): the
//! read runs on the previous owner inside `MULTI EXISTS key … EXEC`, and
//! is answered from there when the key is still there (one round trip, no
//! move: the background migration moves it), else forwarded to the new
//! owner (two). The EXISTS and the read are atomic, and a key leaves its
//! previous owner only once its new owner has it, so the answer is the
//! value a read at that instant would see.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use inmemory::cmd::table::{flags, CommandSpec};
use inmemory::protocol::frame::Frame;
use tokio::sync::oneshot;

use super::{key_tag, move_keys, Link, Move};
use crate::pool::{encode_command, Answer, Backend};
use crate::router::{answer, Flow, Pending, Router};

impl Link for Router {
    fn request(
        &self,
        b: &Arc<Backend>,
        data: Bytes,
        replies: u32,
    ) -> impl Future<Output = oneshot::Receiver<Answer>> + Send {
        self.send(b, data, replies, true)
    }
}

impl Router {
    /// Moves every key of `keys` whose owner changed and that a previous
    /// owner may still hold to its owner on the ring in force; `Err` with
    /// the error line when a server involved cannot answer (the key may be
    /// there: the command is not forwarded). O(1) without a migration.
    pub(crate) async fn settle_keys<'k>(&self, keys: impl IntoIterator<Item = &'k Bytes>) -> Result<(), String> {
        let r = &self.cluster.reshard;
        if !r.active() {
            return Ok(());
        }
        let plan = r.plan();
        let mut moves = Vec::new();
        for k in keys {
            let Some(owner) = self.topo.route(k) else { continue };
            for from in r.fallbacks(&plan, &self.topo, self.db, k, owner) {
                moves.push(Move { key: k.clone(), from, to: owner.clone() });
            }
        }
        if moves.is_empty() {
            return Ok(());
        }
        plan.wait_ready().await;
        let _locked = r.lock_keys(moves.iter().map(|m| &m.key[..])).await;
        let done = move_keys(self, &moves).await;
        r.moved_on_demand.fetch_add(done.moved, Ordering::Relaxed);
        r.already_there.fetch_add(done.already_there, Ordering::Relaxed);
        match done.error {
            None => {
                plan.mark_settled(moves.iter().map(|m| super::key_tag(self.db, &m.key)));
                Ok(())
            }
            Some(e) => Err(format!("{e} (while moving a key to its new server)")),
        }
    }
}

impl Router {
    /// A read-only command on one key whose one possible previous owner is
    /// not `owner`: answered from where the key is (see the module doc).
    /// `None` when the command is not such a read, or the previous owner's
    /// answer is not a plain one (the caller then moves the key and
    /// forwards the command, which gives the client the right error).
    pub(crate) async fn read_through(
        &mut self,
        spec: &'static CommandSpec,
        args: &[Bytes],
        owner: &Arc<Backend>,
    ) -> Option<Flow> {
        let r = &self.cluster.reshard;
        if !r.active()
            || !spec.has(flags::READONLY)
            || spec.has(flags::BLOCKING | flags::NO_MULTI)
            || self.watching.is_some()
        {
            return None;
        }
        let pos = spec.key_positions(args)?;
        let key = args.get(*pos.first()?)?.clone();
        if pos.iter().any(|&i| args[i] != key) {
            return None;
        }
        let plan = r.plan();
        let from = match r.fallbacks(&plan, &self.topo, self.db, &key, owner).as_slice() {
            [from] => from.clone(),
            _ => return None,
        };
        plan.wait_ready().await;
        let mut data = BytesMut::new();
        data.extend_from_slice(b"*1\r\n$5\r\nMULTI\r\n");
        encode_command(&[Bytes::from_static(b"EXISTS"), key.clone()], &mut data);
        encode_command(args, &mut data);
        data.extend_from_slice(b"*1\r\n$4\r\nEXEC\r\n");
        let rx = self.send(&from, data.freeze(), 4, true).await;
        let frame = answer(rx).await.ok()?.frame?;
        match frame.items()? {
            [Frame::Int(1), result] => {
                r.read_through.fetch_add(1, Ordering::Relaxed);
                let mut out = BytesMut::new();
                result.write_to(&mut out);
                Some(self.flow(Pending::Bytes(out.freeze())).await)
            }
            [Frame::Int(0), _] => {
                plan.mark_settled(std::iter::once(key_tag(self.db, &key)));
                Some(self.forward(owner, args).await)
            }
            _ => None,
        }
    }
}
