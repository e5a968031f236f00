import sys

from leadrelay.cli import main

sys.exit(main())
