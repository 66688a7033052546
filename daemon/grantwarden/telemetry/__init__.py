"""Prometheus metrics: the families of the contract, the per-tenant series store, its exposition.

``metrics.Metrics`` owns a registry; the worker layer writes per-tenant series
(``series.TenantSeries``), and ``exposition`` renders them in the text format, a chunk of tenants
at a time. Below the worker layer, so workers can count; it knows nothing of HTTP.
"""
