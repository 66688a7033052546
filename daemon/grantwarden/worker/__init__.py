"""One tenant's life: token box, refresher, prober, planner, executor, reporter, supervisor.

``tenant.Worker`` composes the per-tenant loops; ``supervisor.Supervisor`` runs one guarded task
per owned tenant. Decisions come from ``grantwarden.policy``; every platform call of a tenant
goes through its ``api.TenantApi`` (one per identity), and from there through
``grantwarden.remote``. Nothing here serves HTTP or reads the configuration file.
"""
