"""In-memory implementations of every port: a product for embedders and testers.

They keep the real adapters' promises — atomic commit and rollback, optimistic
concurrency, uniqueness, ordering and the same errors — which the contract tests prove.
"""
