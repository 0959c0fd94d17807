"""The job queue on RabbitMQ (pika): durable quorum queues, persistent messages, publisher
confirms, prefetch 1, retries through delay queues, and a dead-letter queue."""
