"""The HTTP API (Falcon, WSGI): thin resources over the application services."""
