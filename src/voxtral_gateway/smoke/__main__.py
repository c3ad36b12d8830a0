import sys

from voxtral_gateway.smoke import main

sys.exit(main())
