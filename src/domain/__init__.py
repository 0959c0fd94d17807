"""The pure core of videoplatform: entities, value objects, policies, events and errors.

Only the standard library and attrs may be imported here (enforced by architecture.toml).
"""
