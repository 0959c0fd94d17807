"""Use cases and the ports they need. Imports only ``domain``, attrs and the standard library."""
