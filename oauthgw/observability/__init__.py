"""What operators see: the audit trail, Prometheus metrics, the dashboard's figures, logs and request ids.

Log-safe ``fingerprints`` let a line refer to a username without holding it.
"""
