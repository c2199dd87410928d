# PostgreSQL for the conversation-store tests (tests/support/postgres.py): they create their own
# throwaway cluster with initdb/pg_ctl as the postgres user on a free loopback port, so no service
# is started here; the package's default cluster, if Debian starts one, is left alone.
apt_install postgresql
