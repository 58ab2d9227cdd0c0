"""Operating the panel: metrics, health and readiness, structured logs."""
