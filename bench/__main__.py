import sys

if sys.argv[1:2] == ["dbt"]:
    from bench.dbt import main

    sys.exit(main(sys.argv[2:]))
if sys.argv[1:2] == ["celery"]:
    from bench.celery_workers import main

    sys.exit(main(sys.argv[2:]))

from bench.run import main

sys.exit(main())
