"""Ports: the typing.Protocols that adapters implement. Fakes need not inherit from them."""
