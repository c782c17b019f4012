"""Read-only views over everything: the holding view, the status screen, the health check,
aggregated reports under disclosure control, and the record of processing."""
