import sys

from leadrelay.server import run_process
from validation_service.app import running

sys.exit(run_process("validation_service", running))
