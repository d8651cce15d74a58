//! On-demand moves: a client's command on a key that may still be on a
//! previous owner first moves it to the key's owner on the ring in force.
//!
//! The moves travel on the client's own connections (its protocol, its
//! database, its WATCH connection), so they are ordered after the client's
//! earlier requests to the same servers; the command is forwarded only
//! once they are done. Keys whose owner did not change cost nothing; a key
//! already moved costs one round trip to each previous owner that may hold
//! it (in parallel); a key still to move costs three.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::oneshot;

use super::{move_keys, Link, Move};
use crate::pool::{Answer, Backend};
use crate::router::Router;

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
