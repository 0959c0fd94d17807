"""Password hashing (argon2id) and secret tokens (``secrets``)."""
