import sys

from ingest_service.app import running
from leadrelay.server import run_process

sys.exit(run_process("ingest_service", running))
