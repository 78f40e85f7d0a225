import sys

from gatewayproj.server.master import main

sys.exit(main())
