"""Prometheus metrics: the seeds' ``broker_*`` names plus queue and end-to-end figures.

One ``BrokerMetrics`` per process, on the registry that process serves at ``/metrics``
(tests pass a fresh ``CollectorRegistry`` so several apps can live in one interpreter).
"""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

#: The seeds' allocation-latency buckets: tuned for a <100 ms claim.
ALLOCATION_BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0)
#: Enqueue → reply written, as a track experiences it (queue wait included).
E2E_BUCKETS = (0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)


class BrokerMetrics:
    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.registry = registry
        self.allocate_total = Counter(
            "broker_allocate_total",
            "Allocation requests by outcome (success, idempotent, no_sandboxes, error)",
            ["outcome"],
            registry=registry,
        )
        #: v2 drain guard: new leases per tenant (a tenant allocating far above its normal
        #: rate is an alarm). Tenant names come from the tenants store: bounded.
        self.tenant_allocations = Counter(
            "broker_tenant_allocations_total",
            "New leases (successful claims) by tenant",
            ["tenant"],
            registry=registry,
        )
        self.allocate_conflicts = Counter(
            "broker_allocate_conflicts",
            "Candidates lost to a concurrent claimer (conditional check failed)",
            registry=registry,
        )
        self.allocate_idempotent_hits = Counter(
            "broker_allocate_idempotent_hits",
            "Allocations answered with the track's existing sandbox",
            registry=registry,
        )
        self.mark_for_deletion_total = Counter(
            "broker_mark_for_deletion_total",
            "Release (mark-for-deletion) requests by outcome",
            ["outcome"],
            registry=registry,
        )
        self.extend_total = Counter(
            "broker_extend_total",
            "Lease extend requests by outcome (v2)",
            ["outcome"],
            registry=registry,
        )
        self.waiters = Counter(
            "broker_waiters_total",
            "Waiting allocations by outcome: waiting, served, timed_out (v2)",
            ["outcome"],
            registry=registry,
        )
        self.waiters_waiting = Gauge(
            "broker_waiters_waiting",
            "Waiting allocations left after this consumer's last waiter pump pass (v2)",
            registry=registry,
        )
        self.allocation_latency = Histogram(
            "broker_allocation_latency_seconds",
            "Time a consumer spends on one allocation (claim + reply write)",
            ["outcome"],
            buckets=ALLOCATION_BUCKETS,
            registry=registry,
        )
        self.e2e_latency = Histogram(
            "broker_request_e2e_latency_seconds",
            "Message requested_at to its reply written, by action",
            ["action"],
            buckets=E2E_BUCKETS,
            registry=registry,
        )
        self.replies_total = Counter(
            "broker_replies_total",
            "Terminal replies written, by action, status and error code",
            ["action", "status", "code"],
            registry=registry,
        )
        # The seeds' job metrics: one outcome counter per job, plus what each job changed.
        self.sync_total = Counter(
            "broker_sync_total", "Sync jobs by outcome", ["outcome"], registry=registry
        )
        self.sync_sandboxes_synced = Counter(
            "broker_sync_sandboxes_synced",
            "Sandboxes created or refreshed as available by sync",
            registry=registry,
        )
        self.sync_sandboxes_stale = Counter(
            "broker_sync_sandboxes_stale",
            "Sandboxes marked stale by sync (the CSP no longer lists them)",
            registry=registry,
        )
        self.cleanup_total = Counter(
            "broker_cleanup_total",
            "Cleanup and delete_sandbox jobs by outcome",
            ["outcome"],
            registry=registry,
        )
        self.cleanup_deleted = Counter(
            "broker_cleanup_deleted", "Sandboxes deleted in the CSP and removed", registry=registry
        )
        self.cleanup_failed = Counter(
            "broker_cleanup_failed", "CSP deletes that failed (retried later)", registry=registry
        )
        self.expiry_total = Counter(
            "broker_expiry_total", "Expire jobs by outcome", ["outcome"], registry=registry
        )
        self.expiry_marked = Counter(
            "broker_expiry_marked",
            "Allocations past lab duration + buffer moved to pending_deletion",
            registry=registry,
        )
        self.delete_stale_total = Counter(
            "broker_delete_stale_total",
            "delete_stale jobs by outcome",
            ["outcome"],
            registry=registry,
        )
        self.dead_letters_answered = Counter(
            "broker_dead_letters_answered_total",
            "DEAD_LETTERED replies the DLQ sweep wrote for requests no handler finished "
            "(a consumer died holding them on their last receive)",
            ["queue"],
            registry=registry,
        )
        self.receive_count = Histogram(
            "broker_message_receive_count",
            "ApproximateReceiveCount of each message handled, by type (redeliveries show here)",
            ["action"],
            buckets=(1, 2, 3, 4, 5, 10),
            registry=registry,
        )
        self.pool = Gauge(
            "broker_pool_sandboxes",
            "Sandboxes in the pool by status (sampled with Query COUNT, never Scan)",
            ["status"],
            registry=registry,
        )
        # The seeds' per-status gauge names, kept so existing dashboards keep working.
        self.pool_available = Gauge(
            "broker_pool_available", "Available sandboxes", registry=registry
        )
        self.pool_allocated = Gauge(
            "broker_pool_allocated", "Allocated sandboxes", registry=registry
        )
        self.pool_pending_deletion = Gauge(
            "broker_pool_pending_deletion", "Sandboxes pending deletion", registry=registry
        )
        self.pool_stale = Gauge("broker_pool_stale", "Stale sandboxes", registry=registry)
        self.pool_total = Gauge("broker_pool_total", "Sandboxes in the pool", registry=registry)

    def job_finished(self, job: str, outcome: str, *, changed: int, failed: int) -> None:
        """Count one job run the way the seeds' dashboards expect."""
        match job:
            case "sync":
                self.sync_total.labels(outcome=outcome).inc()
            case "cleanup":
                self.cleanup_total.labels(outcome=outcome).inc()
            case "delete_sandbox":
                self.cleanup_total.labels(outcome=outcome).inc()
                self.cleanup_deleted.inc(changed)
                self.cleanup_failed.inc(failed)
            case "expire":
                self.expiry_total.labels(outcome=outcome).inc()
                self.expiry_marked.inc(changed)
            case "delete_stale":
                self.delete_stale_total.labels(outcome=outcome).inc()

    def sync_changed(self, *, synced: int, stale: int) -> None:
        self.sync_sandboxes_synced.inc(synced)
        self.sync_sandboxes_stale.inc(stale)

    def set_pool(self, counts: dict[str, int]) -> None:
        for status, n in counts.items():
            self.pool.labels(status=status).set(n)
        self.pool_available.set(counts.get("available", 0))
        self.pool_allocated.set(counts.get("allocated", 0))
        self.pool_pending_deletion.set(counts.get("pending_deletion", 0))
        self.pool_stale.set(counts.get("stale", 0))
        self.pool_total.set(sum(counts.values()))
