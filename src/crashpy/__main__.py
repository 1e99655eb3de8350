from crashpy.cli.main import main

raise SystemExit(main())
