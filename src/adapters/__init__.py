"""Adapters: implementations of the application's ports. Packages are independent."""
