import sys

from feedback_service.app import running
from leadrelay.server import run_process

sys.exit(run_process("feedback_service", running))
