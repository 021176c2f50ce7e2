//! Map Run children shared between replicas. Each replica has a fixed number of child slots.
//! The replica driving a Map Run runs a child itself while it has a free slot; when it has
//! none it queues the child in the store (`child_queue`), and whichever replica has room,
//! this one included, leases it, runs it and records it. Recording takes the child off the
//! queue in the same transaction, which is how the driving replica learns that it ended.
//!
//! A replica that dies stops renewing its leases, and its children go to another replica. A
//! child that was running there starts over; a child that was recorded is never run again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, oneshot};
use tokio_util::task::TaskTracker;

use super::Service;
use crate::store::{QueuedChild, StoreError};

/// How often the pool looks for queued children and for ended ones it waits on, at most and
/// (when nothing happened for a while) at least.
const BUSY_POLL: Duration = Duration::from_millis(50);
const IDLE_POLL: Duration = Duration::from_millis(500);

/// Children claimed in one go; a full batch is followed by another claim at once.
const CLAIM_BATCH: usize = 512;

/// Waiters by Map Run, then by child ARN, each with the order it came in: a look at the queue
/// tells only about waiters that were there before it began.
#[derive(Default)]
struct Waits {
    runs: HashMap<String, HashMap<String, (u64, oneshot::Sender<()>)>>,
    next: u64,
}

/// This replica's share of Map Run children.
pub(crate) struct ChildPool {
    /// Children running here, driven or claimed: one permit each.
    pub(crate) slots: Arc<Semaphore>,
    /// Children this replica queued and waits on, by Map Run, then by child ARN.
    waits: Mutex<Waits>,
    /// Wakes the pool when this replica queued children.
    wake: Notify,
    /// The claimed children running here.
    running: TaskTracker,
    /// Root executions' plans, as [`Service::root_plan`] read them, and when.
    roots: Mutex<HashMap<String, (tokio::time::Instant, RootPlan)>>,
}

/// A root execution's compiled definition, `None` once the execution ended.
type RootPlan = Option<Arc<sluice_engine::lang::model::StateMachine>>;

/// How long a root execution's plan and status are taken as read: a child of an execution
/// stopped less than this ago may still start, and is recorded with its own outcome.
const ROOT_FRESH: Duration = Duration::from_secs(1);

impl ChildPool {
    pub(crate) fn new(slots: usize) -> ChildPool {
        ChildPool {
            slots: Arc::new(Semaphore::new(slots.max(1))),
            waits: Mutex::default(),
            wake: Notify::new(),
            running: TaskTracker::new(),
            roots: Mutex::default(),
        }
    }

    /// A free slot, if there is one.
    pub(crate) fn try_slot(&self) -> Option<OwnedSemaphorePermit> {
        self.slots.clone().try_acquire_owned().ok()
    }

    /// Resolves once the queued child `child_arn` left the queue (it was recorded, or
    /// dropped with its Map Run).
    pub(crate) fn wait(&self, map_run_arn: &str, child_arn: &str) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        let mut waits = self.waits.lock().unwrap_or_else(|p| p.into_inner());
        let seq = waits.next;
        waits.next += 1;
        waits
            .runs
            .entry(map_run_arn.to_string())
            .or_default()
            .insert(child_arn.to_string(), (seq, tx));
        drop(waits);
        self.wake.notify_one();
        rx
    }

    /// The Map Runs with waiters, and the mark to hand [`ChildPool::settle`] after reading
    /// the queue.
    fn waited_runs(&self) -> (Vec<String>, u64) {
        let mut waits = self.waits.lock().unwrap_or_else(|p| p.into_inner());
        // A waiter that went away (its Map Run was dropped) is forgotten.
        waits.runs.retain(|_, children| {
            children.retain(|_, (_, tx)| !tx.is_closed());
            !children.is_empty()
        });
        (waits.runs.keys().cloned().collect(), waits.next)
    }

    /// Wakes the waiters of `map_run_arn`'s children that are not `queued`, among those
    /// that came before `mark` (later ones were queued after the queue was read).
    fn settle(&self, map_run_arn: &str, queued: &[String], mark: u64) {
        let queued: std::collections::HashSet<&str> = queued.iter().map(String::as_str).collect();
        let mut waits = self.waits.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(children) = waits.runs.get_mut(map_run_arn) {
            let ended: Vec<String> = children
                .iter()
                .filter(|(arn, (seq, _))| *seq < mark && !queued.contains(arn.as_str()))
                .map(|(arn, _)| arn.clone())
                .collect();
            for arn in ended {
                if let Some((_, tx)) = children.remove(&arn) {
                    let _ = tx.send(());
                }
            }
        }
    }
}

impl Service {
    /// The pool's loop: wake the waiters of children that ended, claim queued children while
    /// there are free slots, and keep the leases of the children running here. Owned by the
    /// service (aborted by [`Service::shut_down`]).
    pub(crate) async fn run_child_pool(self: Arc<Self>) {
        // Children a previous life of this replica was running are free to anyone at once.
        if let Err(e) = self
            .store
            .renew_child_leases(&self.config.replica_id, None)
            .await
        {
            tracing::warn!(error = %e, "releasing the Map Run children of a previous run failed");
        }
        let lease = self.config.execution_lease_seconds;
        let renew_every = Duration::from_secs_f64((lease / 3.0).max(0.1));
        let mut renewed = tokio::time::Instant::now();
        let mut poll = BUSY_POLL;
        loop {
            let woken = tokio::select! {
                () = self.children.wake.notified() => true,
                () = tokio::time::sleep(poll) => false,
                () = self.shutdown.cancelled() => return,
            };
            let mut busy = woken;
            let (runs, mark) = self.children.waited_runs();
            for run in runs {
                busy = true;
                match self.store.queued_children(&run).await {
                    Ok(queued) => self.children.settle(&run, &queued, mark),
                    Err(e) => tracing::warn!(error = %e, "reading the child queue failed"),
                }
            }
            let mut more = false;
            match self.claim_children().await {
                Ok(0) => {}
                Ok(n) => {
                    busy = true;
                    more = n == CLAIM_BATCH;
                }
                Err(e) => tracing::warn!(error = %e, "claiming Map Run children failed"),
            }
            if renewed.elapsed() >= renew_every {
                renewed = tokio::time::Instant::now();
                let until = crate::time::now() + lease;
                if let Err(e) = self
                    .store
                    .renew_child_leases(&self.config.replica_id, Some(until))
                    .await
                {
                    tracing::warn!(error = %e, "renewing Map Run child leases failed");
                }
            }
            poll = if more {
                Duration::ZERO
            } else if busy {
                BUSY_POLL
            } else {
                (poll * 2).clamp(BUSY_POLL, IDLE_POLL)
            };
        }
    }

    /// Claims as many queued children as there are free slots and starts them; returns how
    /// many. Slots are taken as the children start, not held while claiming, so a Map Run
    /// driven here never queues a child because the pool was looking.
    async fn claim_children(self: &Arc<Self>) -> Result<usize, StoreError> {
        let free = self.children.slots.available_permits().min(CLAIM_BATCH);
        if free == 0 {
            return Ok(0);
        }
        let now = crate::time::now();
        let claimed = self
            .store
            .claim_children(
                &self.config.replica_id,
                now,
                now + self.config.execution_lease_seconds,
                free,
            )
            .await?;
        let n = claimed.len();
        if n > 0 {
            tracing::info!(children = n, "took queued Map Run children");
        }
        for child in claimed {
            // A driver here may have taken the slot meanwhile: the child runs anyway (one
            // over the limit for a moment) rather than wait out its lease.
            let slot = self.children.try_slot();
            let service = self.clone();
            self.children.running.spawn(async move {
                let arn = child.child_arn.clone();
                if let Err(e) = service.run_queued(child).await {
                    // Its lease runs out and a replica takes it again.
                    tracing::warn!(child = %arn, error = %e, "a queued Map Run child could not run");
                }
                drop(slot);
            });
        }
        Ok(n)
    }

    /// The compiled definition of a running root execution, `None` once it ended. Kept for
    /// [`ROOT_FRESH`]: the children of one Map Run ask for the same root thousands of times,
    /// and its row carries the execution's whole input.
    async fn root_plan(&self, root_arn: &str) -> Result<RootPlan, String> {
        let now = tokio::time::Instant::now();
        if let Some((at, plan)) = self
            .children
            .roots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(root_arn)
            && now.duration_since(*at) < ROOT_FRESH
        {
            return Ok(plan.clone());
        }
        let plan = match self
            .store
            .get_execution(root_arn)
            .await
            .map_err(|e| e.to_string())?
        {
            Some(r) if r.status == crate::lifecycle::ExecutionStatus::Running => {
                Some(self.plans.get(&r.definition).map_err(|e| e.to_string())?)
            }
            _ => None,
        };
        let mut roots = self
            .children
            .roots
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        roots.retain(|_, (at, _)| now.duration_since(*at) < ROOT_FRESH);
        roots.insert(root_arn.to_string(), (now, plan.clone()));
        Ok(plan)
    }

    /// Runs a claimed child to its end and records it (which takes it off the queue).
    async fn run_queued(&self, queued: QueuedChild) -> Result<(), String> {
        use sluice_engine::engine::children::DelegatedChild;
        use sluice_engine::engine::{DelegatedRequest, ExecutionInfo};

        let root = self.root_plan(&queued.root_arn).await?;
        let input = super::stored_json(&queued.input, "child input").map_err(|e| e.to_string())?;
        let vars =
            super::stored_json(&queued.vars, "child variables").map_err(|e| e.to_string())?;
        let child = DelegatedChild {
            info: Arc::new(ExecutionInfo {
                arn: queued.child_arn.clone(),
                name: queued.name.clone(),
                state_machine_name: queued
                    .state_machine_arn
                    .split_once(":stateMachine:")
                    .map_or("", |(_, n)| n)
                    .to_string(),
                state_machine_arn: queued.state_machine_arn.clone(),
                role_arn: queued.role_arn.clone(),
                start_time: sluice_engine::engine::now_iso8601(),
                input: Arc::new(input),
                redrive_count: u64::try_from(queued.redrive_count).unwrap_or(0),
            }),
            map_run_arn: queued.map_run_arn.clone(),
            index: usize::try_from(queued.index).unwrap_or(0),
            label: queued.label.clone(),
            // The seed's bits, as the driving replica drew them.
            seed: queued.seed as u64,
            vars,
            rerun: queued.rerun,
        };
        let Some(machine) = root else {
            // The execution ended (stopped, failed) while the child waited: it is aborted
            // with its Map Run.
            let (record, events) = super::children::aborted_child(
                &sluice_engine::engine::children::RunningChild {
                    info: child.info.clone(),
                    map_run_arn: child.map_run_arn.clone(),
                    start: std::time::SystemTime::now(),
                },
                std::time::SystemTime::now(),
            );
            return self
                .committer
                .record_child(record, events)
                .await
                .map_err(|e| e.to_string());
        };
        let ledger = super::children::StoredChildren {
            store: self.store.as_ref(),
            committer: &self.committer,
            pool: &self.children,
            root_arn: &queued.root_arn,
        };
        let ended = self
            .engine
            .run_delegated(DelegatedRequest {
                machine: &machine,
                child: &child,
                key: self.token_key.clone(),
                children: Some(&ledger),
            })
            .await;
        let (record, events) = super::children::stored_child(&ended);
        self.committer
            .record_child(record, events)
            .await
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waiters_wake_when_their_children_leave_the_queue() {
        let pool = ChildPool::new(2);
        let a = pool.wait("run", "child-a");
        let mut b = pool.wait("run", "child-b");
        let (runs, mark) = pool.waited_runs();
        assert_eq!(runs, vec!["run".to_string()]);
        // Queued after the queue was read: not woken by what that read found.
        let mut late = pool.wait("run", "child-c");
        pool.settle("run", &["child-b".to_string()], mark);
        a.await.expect("child-a left the queue");
        assert!(b.try_recv().is_err(), "child-b is still queued");
        assert!(late.try_recv().is_err(), "child-c came after the read");
        drop((b, late));
        assert!(
            pool.waited_runs().0.is_empty(),
            "a dropped waiter is forgotten"
        );
    }

    #[test]
    fn slots_are_bounded() {
        let pool = ChildPool::new(2);
        let (one, two) = (pool.try_slot(), pool.try_slot());
        assert!(one.is_some() && two.is_some());
        assert!(pool.try_slot().is_none());
        drop(one);
        assert!(pool.try_slot().is_some());
    }
}
