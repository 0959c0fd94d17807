"""A job consumer process for the crash test: takes one job, writes ``started <id>`` to
the file given, then sleeps inside its handler until it is killed.

Run as ``python -m tests.integration.slow_consumer AMQP_URL PREFIX MAX_DELIVERIES MARKER``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from videoplatform.adapters.rabbitmq.queue import RabbitJobQueue
from videoplatform.adapters.rabbitmq.topology import Topology
from videoplatform.application.jobs import JobConsumer
from videoplatform.application.ports.queue import Job


def main(url: str, prefix: str, max_deliveries: str, marker: str) -> None:
    topology = Topology(url=url, prefix=prefix, max_deliveries=int(max_deliveries))
    queue = RabbitJobQueue(topology, role="slow-consumer")

    def handle(job: Job) -> None:
        Path(marker).write_text(f"started {job.id} {job.attempt}\n")
        time.sleep(600)

    JobConsumer(queue, {"slow": handle}).run(poll_seconds=0.2)


if __name__ == "__main__":
    main(*sys.argv[1:5])
