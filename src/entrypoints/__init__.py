"""Entry points: the composition root and the ways into the platform (HTTP, CLI, worker)."""
