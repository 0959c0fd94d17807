"""Redis adapters (the ``redis`` package)."""
