"""Object storage on real media: local disk (here), S3 (later)."""
