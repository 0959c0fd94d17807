"""One module per capability; each exposes ``routes(context) -> list[Route]``."""
