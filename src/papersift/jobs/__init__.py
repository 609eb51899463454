"""``papersift worker``: the service's scheduled jobs, each run under a lease stored in the database.

``lease.py`` (claim, heartbeat, finish), ``registry.py`` (the jobs: index catch-up, embed, and the
hook later jobs such as harvest and digest plug into), ``worker.py`` (the long-running loop).
"""
