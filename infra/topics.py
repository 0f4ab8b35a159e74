"""Creates scrapeguard's Kafka topics (idempotent); see jobs/topics.py.

python infra/topics.py --bootstrap-servers 127.0.0.1:19092 [--partitions 4] [--topic-prefix staging.]
"""

import sys

from jobs.topics import main

if __name__ == "__main__":
    sys.exit(main())
